'use strict';
// s3rver (the @20minutes/s3rver npm package) for batchd's s3:// tests: an S3-protocol server on
// 127.0.0.1 that verifies SigV4 signatures against one access key (its built-in S3RVER key is
// revoked), with the named buckets, keeping objects under DIR. Path-style addressing only.
// Stops on SIGTERM. Started by tests/support/s3rver_server.cpp.
//
// Two additions to s3rver: each answered request is appended to ACCESS_LOG as
// "METHOD URL STATUS RANGE" (RANGE "-" without a Range header), so a test can count requests;
// and a suffix range ("bytes=-N", the last N bytes, as AWS S3 and RFC 9110 read it), which
// s3rver 3.x takes for "bytes=0-N", is turned into the absolute range it means once the
// request's signature is checked (the controller runs after authentication).
//
// usage: node s3rver_main.js DIR PORT ACCESS_KEY_ID SECRET_ACCESS_KEY ACCESS_LOG BUCKET...
const fs = require('fs');
const S3rver = require('@20minutes/s3rver');
const AWSAccount = require('@20minutes/s3rver/lib/models/account');
const objectController = require('@20minutes/s3rver/lib/controllers/object');

const [directory, port, accessKeyId, secretAccessKey, accessLog, ...buckets] =
  process.argv.slice(2);

const getObject = objectController.getObject;
objectController.getObject = async function getObjectWithSuffixRanges(ctx) {
  const suffix = /^bytes=-(\d+)$/.exec(ctx.headers.range || '');
  if (suffix) {
    const object = await ctx.store.getObject(ctx.params.bucket, ctx.params.key);
    if (object) {
      object.content.destroy();
      const length = Math.min(Number(suffix[1]), object.size);
      // An empty object has no last bytes: a range that starts past its end (416).
      ctx.headers.range =
        length === 0 ? 'bytes=1-1' : `bytes=${object.size - length}-${object.size - 1}`;
    }
  }
  return getObject(ctx);
};
AWSAccount.DUMMY_ACCOUNT.revokeAccessKey('S3RVER');
AWSAccount.DUMMY_ACCOUNT.createKeyPair(accessKeyId, secretAccessKey);

const server = new S3rver({
  address: '127.0.0.1',
  port: Number(port),
  directory,
  silent: false,
  vhostBuckets: false,
  configureBuckets: buckets.map((name) => ({ name, configs: [] })),
});
// First in the chain, so it sees every request, and logs the status actually sent.
server.middleware.unshift((ctx, next) => {
  const line = `${ctx.method} ${ctx.originalUrl} `;
  const range = ctx.get('range') || '-';
  ctx.res.on('finish', () => fs.appendFileSync(accessLog, `${line}${ctx.res.statusCode} ${range}\n`));
  return next();
});
server.run().then(
  (address) => console.log(`s3rver listening on ${address.address}:${address.port}`),
  (error) => {
    console.error(`s3rver cannot start: ${error}`);
    process.exit(1);
  },
);
process.on('SIGTERM', () => {
  server.close().finally(() => process.exit(0));
});
