#include "tests/support/event_stream_helpers.h"

#include <fstream>
#include <sstream>

namespace batchd::testing {

using nlohmann::json;

Result<std::vector<json>> ReadUntil(WebSocketClient& client,
                                    const std::function<bool(const json&)>& done,
                                    size_t max_messages) {
  std::vector<json> out;
  while (out.size() < max_messages) {
    ASSIGN_OR_RETURN(WebSocketMessage m, client.Read());
    if (m.kind != WebSocketMessage::Kind::kText) {
      return Status::FailedPrecondition("after " + std::to_string(out.size()) + " messages, got " +
                                        m.Describe());
    }
    json j = m.Json();
    if (j.is_discarded()) return Status::Malformed("not JSON: " + m.payload);
    out.push_back(std::move(j));
    if (done(out.back())) return out;
  }
  return Status::FailedPrecondition("the awaited message did not come within " +
                                    std::to_string(max_messages) + " messages");
}

Result<json> ReadHello(WebSocketClient& client) {
  ASSIGN_OR_RETURN(json hello, client.ReadJson());
  if (hello.value("type", "") != "hello") {
    return Status::FailedPrecondition("the first message is not a hello: " + hello.dump());
  }
  return hello;
}

std::vector<json> EventsOnly(const std::vector<json>& messages) {
  std::vector<json> out;
  for (const json& m : messages) {
    if (m.contains("seq")) out.push_back(m);
  }
  return out;
}

std::function<bool(const json&)> IsEvent(const std::string& type, const std::string& batch_id) {
  return [type, batch_id](const json& m) {
    return m.value("type", "") == type && m.value("batch", "") == batch_id;
  };
}

Result<MemoryUse> ReadMemoryUse(pid_t pid) {
  const std::string path = "/proc/" + std::to_string(pid) + "/status";
  std::ifstream in(path);
  if (!in) return Status::IoError("cannot read " + path);
  MemoryUse use;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string name;
    int64_t kib = 0;
    fields >> name >> kib;
    if (name == "VmRSS:") use.rss_kib = kib;
    if (name == "VmHWM:") use.peak_kib = kib;
  }
  if (use.rss_kib == 0) return Status::IoError(path + " has no VmRSS line");
  return use;
}

}  // namespace batchd::testing
