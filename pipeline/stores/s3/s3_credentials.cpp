// The s3:// credential lookup (s3_credentials.h).
#include "pipeline/stores/s3/s3_credentials.h"

#include <cstdlib>
#include <fstream>
#include <iterator>

namespace batchd::pipeline {
namespace {

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return text;
}

// "[name]" or "[profile name]" -> "name".
std::string SectionName(std::string_view line) {
  std::string_view name = Trim(line.substr(1, line.size() - 2));
  if (name.substr(0, 8) == "profile ") name = Trim(name.substr(8));
  return std::string(name);
}

std::string Getenv(const char* (*getenv)(const char*), const char* name) {
  const char* value = getenv(name);
  return value != nullptr ? value : "";
}

}  // namespace

Result<SigV4Credentials> ParseCredentialsFile(std::string_view text, const std::string& profile,
                                              const std::string& file_name) {
  SigV4Credentials out;
  bool in_profile = false;
  bool found = false;
  while (!text.empty()) {
    const size_t end = std::min(text.find('\n'), text.size());
    std::string_view line = Trim(text.substr(0, end));
    text.remove_prefix(std::min(end + 1, text.size()));
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      in_profile = SectionName(line) == profile;
      found = found || in_profile;
      continue;
    }
    if (!in_profile) continue;
    const size_t eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string_view key = Trim(line.substr(0, eq));
    const std::string value(Trim(line.substr(eq + 1)));
    if (key == "aws_access_key_id") out.access_key_id = value;
    if (key == "aws_secret_access_key") out.secret_access_key = value;
    if (key == "aws_session_token") out.session_token = value;
  }
  const std::string where = "--s3-credentials " + file_name + " [" + profile + "]";
  if (!found) {
    return Status::InvalidArgument(where + ": no such profile", "--s3-profile");
  }
  if (out.access_key_id.empty() || out.secret_access_key.empty()) {
    return Status::InvalidArgument(
        where + ": needs both aws_access_key_id and aws_secret_access_key", "--s3-credentials");
  }
  return out;
}

Result<S3Identity> ResolveS3Identity(const S3CredentialSources& sources,
                                     const char* (*getenv)(const char*)) {
  if (getenv == nullptr) getenv = [](const char* name) -> const char* { return std::getenv(name); };
  S3Identity out;
  out.region = sources.region;
  if (out.region.empty()) out.region = Getenv(getenv, "AWS_REGION");
  if (out.region.empty()) out.region = Getenv(getenv, "AWS_DEFAULT_REGION");
  if (out.region.empty()) out.region = "us-east-1";

  if (sources.anonymous) {
    out.source = "none: anonymous (--s3-anonymous), requests are not signed";
    return out;
  }
  if (!sources.credentials_file.empty()) {
    std::ifstream in(sources.credentials_file, std::ios::binary);
    if (!in) {
      return Status::InvalidArgument(
          "--s3-credentials " + sources.credentials_file + " cannot be read", "--s3-credentials");
    }
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ASSIGN_OR_RETURN(SigV4Credentials keys,
                     ParseCredentialsFile(text, sources.profile, sources.credentials_file));
    out.credentials = std::move(keys);
    out.source = "--s3-credentials " + sources.credentials_file + " [" + sources.profile + "]";
    return out;
  }
  const std::string id = Getenv(getenv, "AWS_ACCESS_KEY_ID");
  const std::string secret = Getenv(getenv, "AWS_SECRET_ACCESS_KEY");
  if (id.empty() != secret.empty()) {
    return Status::InvalidArgument(
        std::string("the environment has ") +
            (id.empty() ? "AWS_SECRET_ACCESS_KEY but no AWS_ACCESS_KEY_ID"
                        : "AWS_ACCESS_KEY_ID but no AWS_SECRET_ACCESS_KEY") +
            ": set both, or neither for anonymous s3:// access",
        id.empty() ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY");
  }
  if (!id.empty()) {
    out.credentials = SigV4Credentials{id, secret, Getenv(getenv, "AWS_SESSION_TOKEN")};
    out.source = out.credentials->session_token.empty()
                     ? "the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)"
                     : "the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, "
                       "AWS_SESSION_TOKEN)";
    return out;
  }
  out.source =
      "none: anonymous (no --s3-credentials and no AWS_ACCESS_KEY_ID), requests are not signed";
  return out;
}

}  // namespace batchd::pipeline
