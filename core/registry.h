// Name -> entry, for what a batch names by string: ops, codecs, array formats, store schemes.
// Core code never switches on those names; it finds them here. Each kind's registry (OpRegistry,
// CodecRegistry, FormatRegistry, StoreRegistry) holds one of these and adds what is its own
// (building a codec from its config, opening a store from a URL).
//
// Threads: filled once at start-up and read-only afterwards, so Find, Names and KnownNames may
// then be called from any thread without a lock. Register is not thread-safe.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace batchd {

template <typename Entry>
class Registry {
 public:
  // Replaces any entry registered under `name`.
  void Register(std::string name, Entry entry) { entries_[std::move(name)] = std::move(entry); }

  // nullptr if nothing has this name. The pointer stays valid until `name` is registered again.
  const Entry* Find(std::string_view name) const {
    auto it = entries_.find(name);
    return it == entries_.end() ? nullptr : &it->second;
  }

  // Every name, in sorted order.
  std::vector<std::string> Names() const {
    std::vector<std::string> names;
    names.reserve(entries_.size());
    for (const auto& [name, entry] : entries_) names.push_back(name);
    return names;
  }

  // The names for an error message: "a, b, c" in sorted order, or "none".
  std::string KnownNames() const {
    std::string known;
    for (const auto& [name, entry] : entries_) known += (known.empty() ? "" : ", ") + name;
    return known.empty() ? "none" : known;
  }

 private:
  std::map<std::string, Entry, std::less<>> entries_;
};

}  // namespace batchd
