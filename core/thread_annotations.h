// Lock annotations that clang checks with -Wthread-safety (the clang trees build with
// -Werror=thread-safety, docs/testing.md). They say which mutex guards a member and which lock a
// function needs, so a member touched without its lock is a compile error instead of a race
// found by TSan, or not at all. Other compilers (GCC builds the release tree) see nothing.
//
//   T member_ GUARDED_BY(mu_);       read or written only with mu_ held
//   T* p_ PT_GUARDED_BY(mu_);        *p_ (not p_ itself) is guarded by mu_
//   void FooLocked() REQUIRES(mu_);  the caller holds mu_
//   void Foo() EXCLUDES(mu_);        the caller must not hold mu_ (Foo takes it)
//   NO_THREAD_SAFETY_ANALYSIS        turns the check off for one function; say why next to it
//
// The mutex to use is batchd::Mutex (core/mutex.h): libstdc++'s std::mutex carries no
// annotations, so the analysis cannot see it being locked.
#pragma once

#if defined(__clang__)
#define BATCHD_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define BATCHD_THREAD_ANNOTATION(x)
#endif

// On a class: its objects are capabilities (mutexes) that the analysis tracks.
#define CAPABILITY(x) BATCHD_THREAD_ANNOTATION(capability(x))
// On a class: an RAII object that holds a capability for its lifetime (MutexLock).
#define SCOPED_CAPABILITY BATCHD_THREAD_ANNOTATION(scoped_lockable)
#define GUARDED_BY(x) BATCHD_THREAD_ANNOTATION(guarded_by(x))
#define PT_GUARDED_BY(x) BATCHD_THREAD_ANNOTATION(pt_guarded_by(x))
#define REQUIRES(...) BATCHD_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define EXCLUDES(...) BATCHD_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
// The function takes (ACQUIRE) or gives up (RELEASE) the named capability, or its object's.
#define ACQUIRE(...) BATCHD_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define RELEASE(...) BATCHD_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
// The function takes the capability when it returns the first argument (true).
#define TRY_ACQUIRE(...) BATCHD_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
// After the call the analysis takes the capability as held (Mutex::AssertHeld).
#define ASSERT_CAPABILITY(x) BATCHD_THREAD_ANNOTATION(assert_capability(x))
// The function returns a reference to the named capability (an accessor for a mutex).
#define RETURN_CAPABILITY(x) BATCHD_THREAD_ANNOTATION(lock_returned(x))
#define NO_THREAD_SAFETY_ANALYSIS BATCHD_THREAD_ANNOTATION(no_thread_safety_analysis)
