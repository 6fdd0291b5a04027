// The GoogleTest fixture every integration test uses: a fresh TempDir, a real `batchd serve` in
// it on a free port, and an HttpClient for that port. The daemon binary is BATCHD_BINARY, which
// tests/CMakeLists.txt defines for the integration test executable only; that is why this
// fixture is header-only.
#pragma once

#include <gtest/gtest.h>

#include <csignal>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/daemon_process.h"
#include "tests/support/http_client.h"
#include "tests/support/status_assertions.h"
#include "tests/support/temp_dir.h"

#ifndef BATCHD_BINARY
#error "BATCHD_BINARY must name the batchd executable (see tests/CMakeLists.txt)"
#endif

namespace batchd::testing {

class DaemonTest : public ::testing::Test {
 protected:
  // Starts a daemon on data_dir() with `extra_args` (e.g. {"--max-body-bytes", "4096"}).
  // Fails the test (fatally) if it does not come up; call through ASSERT_NO_FATAL_FAILURE.
  void StartDaemon(std::vector<std::string> extra_args = {}) {
    DaemonOptions options;
    options.binary = BATCHD_BINARY;
    options.data_dir = dir_.path();
    options.log_level = "debug";  // the log is only read when a test fails
    options.extra_args = std::move(extra_args);
    ASSERT_OK_AND_ASSIGN(daemon_, DaemonProcess::Start(std::move(options)));
    client_ = std::make_unique<HttpClient>(daemon_->port());
  }

  // Pauses the queue (persisted), so sessions stay `uninitialized` for tests about storage and
  // reads rather than execution.
  void PauseQueue() {
    ASSERT_TRUE(client_ != nullptr);
    Result<HttpResponse> r = client_->Post("/api/v1/queue/pause", "");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(r->status, 200) << r->Describe();
  }

  // Stops the daemon with `signal` and expects a clean exit (status 0).
  void StopDaemonCleanly(int signal = SIGTERM) {
    ASSERT_TRUE(daemon_ != nullptr);
    ASSERT_OK_AND_ASSIGN(ExitStatus exit, daemon_->Stop(signal));
    EXPECT_TRUE(exit.CleanExit()) << "batchd stopped with " << exit.ToString();
  }

  // A clean stop, then a new daemon on the same data dir (it gets a new port).
  void RestartDaemon(std::vector<std::string> extra_args = {}) {
    ASSERT_NO_FATAL_FAILURE(StopDaemonCleanly());
    ASSERT_NO_FATAL_FAILURE(StartDaemon(std::move(extra_args)));
  }

  void TearDown() override {
    // A daemon the test left running must still stop cleanly: that is where a crash nobody
    // waited for, or a sanitizer's report at exit (a leak, a race; docs/testing.md), shows.
    if (daemon_ != nullptr && daemon_->running() && !HasFailure()) StopDaemonCleanly();
    // The daemon's own account is usually the fastest way to understand a failure.
    if (HasFailure() && daemon_ != nullptr) {
      std::cerr << "--- batchd log (" << daemon_->log_path() << ") ---\n"
                << daemon_->LogTail() << "\n--- end of batchd log ---\n";
    }
    daemon_.reset();  // stops it before dir_ is removed
  }

  const std::filesystem::path& data_dir() const { return dir_.path(); }
  DaemonProcess& daemon() { return *daemon_; }
  HttpClient& client() { return *client_; }

 private:
  TempDir dir_;  // declared first: destroyed after the daemon that writes into it
  std::unique_ptr<DaemonProcess> daemon_;
  std::unique_ptr<HttpClient> client_;
};

}  // namespace batchd::testing
