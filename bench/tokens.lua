-- wrk script for bench/load.sh: GET $BENCH_PATH, each request with the next token of
-- $BENCH_TOKENS (one per line; none: no Authorization header). With $BENCH_DELAY_MS, each
-- connection waits that long between requests (a fixed, below-saturation rate).

local path = os.getenv("BENCH_PATH") or "/"
local file = os.getenv("BENCH_TOKENS")
local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
local requests = {}
local counter = 0

init = function(args)
  if file and file ~= "" then
    for line in io.lines(file) do
      if #line > 0 then
        requests[#requests + 1] =
          wrk.format("GET", path, { ["Authorization"] = "Bearer " .. line })
      end
    end
  end
  if #requests == 0 then
    requests[1] = wrk.format("GET", path)
  end
end

request = function()
  counter = counter + 1
  return requests[(counter % #requests) + 1]
end

if delay_ms > 0 then
  delay = function()
    return delay_ms
  end
end
