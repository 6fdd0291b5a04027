# Sanitizer and fuzzing builds; docs/testing.md says how CI uses them. Both options change the
# flags of every target, so each build lives in its own build directory (build-asan, build-tsan).
#
#   BATCHD_SANITIZE=address  AddressSanitizer (+ LeakSanitizer) and UndefinedBehaviorSanitizer;
#                            any UB report is fatal (-fno-sanitize-recover), like a memory error.
#   BATCHD_SANITIZE=thread   ThreadSanitizer.
#   BATCHD_SANITIZE=undefined  UBSan alone, fatal, with libstdc++'s bounds assertions: the fast
#                            fuzzing tree (build-fuzz) for long runs; CI fuzzes under address.
#   BATCHD_FUZZ=ON           the libFuzzer targets in fuzz/ (clang only). Every other target is
#                            compiled with -fsanitize=fuzzer-no-link, so the fuzzers see coverage
#                            inside the libraries they drive. Combine with address (CI does).
set(BATCHD_SANITIZE "" CACHE STRING
    "Sanitizers for every target: address (ASan+UBSan), thread, or undefined (UBSan alone)")
set_property(CACHE BATCHD_SANITIZE PROPERTY STRINGS "" address thread undefined)
option(BATCHD_FUZZ "Build the libFuzzer targets in fuzz/ (clang only)" OFF)

set(BATCHD_SANITIZER_FLAGS)
if(BATCHD_SANITIZE STREQUAL "address")
  list(APPEND BATCHD_SANITIZER_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=undefined)
elseif(BATCHD_SANITIZE STREQUAL "thread")
  list(APPEND BATCHD_SANITIZER_FLAGS -fsanitize=thread)
elseif(BATCHD_SANITIZE STREQUAL "undefined")
  list(APPEND BATCHD_SANITIZER_FLAGS -fsanitize=undefined -fno-sanitize-recover=undefined)
  add_compile_definitions(_GLIBCXX_ASSERTIONS)
elseif(NOT BATCHD_SANITIZE STREQUAL "")
  message(FATAL_ERROR
          "BATCHD_SANITIZE must be empty, address, thread or undefined, not '${BATCHD_SANITIZE}'")
endif()
if(BATCHD_SANITIZER_FLAGS)
  # Frame pointers: complete stack traces in reports at little cost.
  list(APPEND BATCHD_SANITIZER_FLAGS -fno-omit-frame-pointer)
  add_compile_options(${BATCHD_SANITIZER_FLAGS})
  add_link_options(${BATCHD_SANITIZER_FLAGS})
endif()

if(BATCHD_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "BATCHD_FUZZ needs clang (libFuzzer): configure with CXX=clang++")
  endif()
  if(BATCHD_SANITIZE STREQUAL "thread")
    message(FATAL_ERROR "BATCHD_FUZZ goes with BATCHD_SANITIZE=address or none, not thread")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
