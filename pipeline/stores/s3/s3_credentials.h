// Where s3:// stores get their keys: the daemon's flags and environment, never a batch. No
// network, only a file read. Nothing here logs, and no message carries a key or a secret.
//
// Lookup order (docs/pipeline.md, "s3://"):
//   1. --s3-anonymous yes: no keys, requests go unsigned (public buckets);
//   2. --s3-credentials FILE: the --s3-profile section (default "default") of an ini file like
//      ~/.aws/credentials (aws_access_key_id, aws_secret_access_key, aws_session_token;
//      "[name]" or "[profile name]" headers, "#" and ";" comments);
//   3. AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) in the environment;
//   4. none of these: anonymous, as 1.
// Region: --s3-region, else AWS_REGION, else AWS_DEFAULT_REGION, else us-east-1.
#pragma once

#include <optional>
#include <string>

#include "core/status.h"
#include "pipeline/stores/s3/sigv4_signer.h"

namespace batchd::pipeline {

struct S3CredentialSources {
  bool anonymous = false;        // --s3-anonymous yes
  std::string credentials_file;  // --s3-credentials; empty: none
  std::string profile = "default";
  std::string region;  // --s3-region; empty: from the environment
};

struct S3Identity {
  std::optional<SigV4Credentials> credentials;  // nullopt: anonymous
  std::string region;
  // Where the keys came from, for the daemon's start-up log: "--s3-credentials /etc/x
  // [profile prod]", "the environment (AWS_ACCESS_KEY_ID)", "none: anonymous (...)". The access
  // key id is not in it either.
  std::string source;
};

// Parses the `profile` section of an ini credentials file's text. kInvalidArgument naming
// `file_name` and the profile (never a value) if the profile is missing or lacks
// aws_access_key_id or aws_secret_access_key.
Result<SigV4Credentials> ParseCredentialsFile(std::string_view text, const std::string& profile,
                                              const std::string& file_name);

// Follows the lookup order above. `getenv` is injectable for tests. kInvalidArgument (naming
// the flag, file, profile or variable) for an unreadable file, a missing profile, or only one
// of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY set.
Result<S3Identity> ResolveS3Identity(const S3CredentialSources& sources,
                                     const char* (*getenv)(const char*) = nullptr);

}  // namespace batchd::pipeline
