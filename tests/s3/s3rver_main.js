'use strict';
// s3rver (the @20minutes/s3rver npm package) for batchd's s3:// tests: an S3-protocol server on
// 127.0.0.1 that verifies SigV4 signatures against one access key (its built-in S3RVER key is
// revoked), with the named buckets, keeping objects under DIR. Path-style addressing only.
// Stops on SIGTERM. Started by tests/support/s3rver_server.cpp.
//
// usage: node s3rver_main.js DIR PORT ACCESS_KEY_ID SECRET_ACCESS_KEY BUCKET...
const S3rver = require('@20minutes/s3rver');
const AWSAccount = require('@20minutes/s3rver/lib/models/account');

const [directory, port, accessKeyId, secretAccessKey, ...buckets] = process.argv.slice(2);
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
