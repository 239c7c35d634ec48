-- wrk script for bench/soak.sh: a fixed mix of tollgate's traffic, each connection pausing
-- $SOAK_DELAY_MS between requests (an open, below-saturation rate). Per 20 requests:
--   14 × GET /videos/demo/url with a premium token            → 200
--    3 × POST /uploads (1000 bytes of video/mp4), uploader    → 201
--    2 × GET /videos/demo/url with a token without the tier   → 403 not_entitled
--    1 × GET /videos/demo/url without a token                 → 401 missing_token
-- Tokens come from $SOAK_TOKENS (one per line: premium, uploader, free, in turn).
-- Every other status, and every socket error, is an error.

local delay_ms = tonumber(os.getenv("SOAK_DELAY_MS") or "10")
local threads = {}

setup = function(thread)
  table.insert(threads, thread)
end

init = function(args)
  local premium, uploader, free = {}, {}, {}
  local n = 0
  for line in io.lines(os.getenv("SOAK_TOKENS")) do
    if #line > 0 then
      local kind = n % 3
      if kind == 0 then premium[#premium + 1] = line
      elseif kind == 1 then uploader[#uploader + 1] = line
      else free[#free + 1] = line end
      n = n + 1
    end
  end
  local body = '{"content_type":"video/mp4","size":1000}'
  requests = {}
  for i = 1, 20 do
    local req
    if i <= 14 then
      req = wrk.format("GET", "/videos/demo/url",
        { ["Authorization"] = "Bearer " .. premium[(i % #premium) + 1] })
    elseif i <= 17 then
      req = wrk.format("POST", "/uploads",
        { ["Authorization"] = "Bearer " .. uploader[(i % #uploader) + 1],
          ["Content-Type"] = "application/json" }, body)
    elseif i <= 19 then
      req = wrk.format("GET", "/videos/demo/url",
        { ["Authorization"] = "Bearer " .. free[(i % #free) + 1] })
    else
      req = wrk.format("GET", "/videos/demo/url")
    end
    requests[i] = req
  end
  counter = 0
  expected = 0
  unexpected = 0
end

request = function()
  counter = counter + 1
  return requests[(counter % 20) + 1]
end

response = function(status, headers, body)
  if status == 200 or status == 201 or status == 401 or status == 403 then
    expected = expected + 1
  else
    unexpected = unexpected + 1
  end
end

delay = function()
  return delay_ms
end

done = function(summary, latency, requests)
  local ok, bad = 0, 0
  for _, thread in ipairs(threads) do
    ok = ok + thread:get("expected")
    bad = bad + thread:get("unexpected")
  end
  local e = summary.errors
  local socket = e.connect + e.read + e.write + e.timeout
  io.write(string.format("SOAK requests=%d expected=%d unexpected=%d socket_errors=%d p50_us=%d p99_us=%d max_us=%d\n",
    summary.requests, ok, bad, socket, latency:percentile(50), latency:percentile(99), latency.max))
end
