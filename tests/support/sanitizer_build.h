// Whether this tree was built with a sanitizer that changes how much memory a process holds
// (ASan's quarantine of freed blocks and its redzones, TSan's shadow memory). The test binaries
// and the daemon they start come from the same tree, so the answer holds for both. Tests that
// bound the daemon's RSS check it only in the plain build, which CI runs too (docs/testing.md);
// under a sanitizer they still run, for what the sanitizer checks.
#pragma once

namespace batchd::testing {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kMemoryIsSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool kMemoryIsSanitized = true;
#else
inline constexpr bool kMemoryIsSanitized = false;
#endif
#else
inline constexpr bool kMemoryIsSanitized = false;
#endif

}  // namespace batchd::testing
