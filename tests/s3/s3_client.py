#!/usr/bin/python3
"""An independent S3 client for batchd's s3:// tests: boto3 (Debian's python3-boto3) against an
S3-compatible endpoint, path-style, SigV4.

usage: s3_client.py ENDPOINT ACCESS_KEY_ID SECRET_ACCESS_KEY COMMAND ARGS...
  upload-dir BUCKET PREFIX DIR      every file under DIR to PREFIX/<relative path>
  download-dir BUCKET PREFIX DIR    every object under PREFIX/ to DIR/<relative key>
  put BUCKET KEY FILE               one object
"""
import os
import sys

import boto3
from botocore.config import Config


def main():
    endpoint, key_id, secret, command, *args = sys.argv[1:]
    s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=key_id,
                      aws_secret_access_key=secret, region_name="us-east-1",
                      config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    if command == "upload-dir":
        bucket, prefix, root = args
        for dirpath, _, files in os.walk(root):
            for name in files:
                path = os.path.join(dirpath, name)
                key = prefix.rstrip("/") + "/" + os.path.relpath(path, root)
                with open(path, "rb") as f:
                    s3.put_object(Bucket=bucket, Key=key, Body=f.read())
    elif command == "download-dir":
        bucket, prefix, root = args
        prefix = prefix.rstrip("/") + "/"
        for page in s3.get_paginator("list_objects").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                path = os.path.join(root, obj["Key"][len(prefix):])
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "wb") as f:
                    f.write(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())
    elif command == "put":
        bucket, key, path = args
        with open(path, "rb") as f:
            s3.put_object(Bucket=bucket, Key=key, Body=f.read())
    else:
        sys.exit("unknown command " + command)


if __name__ == "__main__":
    main()
