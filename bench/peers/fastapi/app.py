"""The FastAPI + uvicorn + PyJWT + boto3 peer of bench/load.sh.

GET /videos/{id}/url with `Authorization: Bearer <HS256 JWT>`: verifies the token (signature,
exp, iss, aud, as tollgate's local configuration asks), checks the `premium` entitlement, and
presigns a GetObject URL with boto3, the way a typical Python service would. It skips the
object's HEAD (tollgate's comes from its warm metadata cache), so it does less work than tollgate.
"""

import os

import boto3
import jwt
from botocore.config import Config
from fastapi import FastAPI, Header, HTTPException

SECRET = os.environ["BENCH_HMAC_SECRET"]
ISSUER = os.environ.get("BENCH_ISSUER", "tollgate-dev")
AUDIENCE = os.environ.get("BENCH_AUDIENCE", "tollgate")
BUCKET = os.environ.get("BENCH_BUCKET", "videos")

s3 = boto3.client(
    "s3",
    endpoint_url=os.environ["BENCH_S3_ENDPOINT"],
    aws_access_key_id=os.environ["BENCH_S3_KEY"],
    aws_secret_access_key=os.environ["BENCH_S3_SECRET"],
    region_name="us-east-1",
    config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
)

app = FastAPI()


@app.get("/videos/{video_id}/url")
def video_url(video_id: str, authorization: str = Header(default="")):
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(status_code=401, detail="missing token")
    try:
        claims = jwt.decode(
            token,
            SECRET,
            algorithms=["HS256"],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "sub"]},
        )
    except jwt.PyJWTError:
        raise HTTPException(status_code=401, detail="invalid token")
    if "premium" not in claims.get("entitlements", []):
        raise HTTPException(status_code=403, detail="not entitled")
    url = s3.generate_presigned_url(
        "get_object",
        Params={"Bucket": BUCKET, "Key": f"videos/{video_id}"},
        ExpiresIn=300,
    )
    return {"url": url, "method": "GET", "expires_in": 300}
