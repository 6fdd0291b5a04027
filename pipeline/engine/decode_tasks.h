// The decode tasks one session keeps in the shared decode pool, and the threads that are handing
// new ones to it.
//
// Tasks: at most `max_tasks` (the pool's thread count) queued or running per session, so one
// session never queues more work than the pool can run at once. A task takes chunks until there
// are none to take, then ends (TaskEnded); one that yields its thread to other sessions stays
// counted, since it continues as the task it re-queues.
//
// Claims: the pipeline decides under its lock to start tasks and hands them to the pool after
// releasing it. Meanwhile a task already running may take the very chunks the new ones were
// started for and bring the session to its end; once `done` is called the owner may stop and
// destroy the pool, so the session must not end while a thread is still inside the pool's
// submit. A Claim is that thread's pass: made under the lock, handed back to Submitted under the
// lock once the tasks are in the pool. The session ends only while no claim is out
// (claims_out), and the last claim handed back tells its holder that ending it, if it came to
// its end meanwhile, falls to it. (A task re-queueing itself runs on a pool thread, which drains
// the queue before it exits: it needs no claim.)
//
// Not thread-safe: the pipeline keeps it under its lock. ClaimUpTo is inline: a store read that
// completes asks for a task (OnRead), once per chunk.
#pragma once

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <utility>

namespace batchd::pipeline {

class DecodeTasks {
 public:
  // New tasks to hand to the pool. Move-only; an empty claim (no tasks) holds nothing. Dropping
  // a claim that holds tasks instead of handing it to Submitted is a bug (a debug check): the
  // session would never end.
  class [[nodiscard]] Claim {
   public:
    Claim() = default;
    Claim(Claim&& other) noexcept : tasks_(std::exchange(other.tasks_, 0)) {}
    Claim& operator=(Claim&& other) noexcept {
      assert(tasks_ == 0 && "a DecodeTasks::Claim was overwritten before Submitted");
      tasks_ = std::exchange(other.tasks_, 0);
      return *this;
    }
    ~Claim() { assert(tasks_ == 0 && "a DecodeTasks::Claim was dropped before Submitted"); }

    int tasks() const { return tasks_; }
    explicit operator bool() const { return tasks_ > 0; }

   private:
    friend class DecodeTasks;
    explicit Claim(int tasks) : tasks_(tasks) {}
    int tasks_ = 0;
  };

  // `max_tasks` >= 1.
  explicit DecodeTasks(int max_tasks) : max_tasks_(max_tasks) { assert(max_tasks >= 1); }

  // Claims up to `wanted` new tasks, as many as keep the session within max_tasks; a claim with
  // tasks counts as out until Submitted.
  Claim ClaimUpTo(int64_t wanted) {
    const int64_t room = max_tasks_ - tasks_;
    const int tasks = static_cast<int>(std::clamp<int64_t>(wanted, 0, std::max<int64_t>(room, 0)));
    if (tasks == 0) return Claim();
    tasks_ += tasks;
    ++claims_out_;
    return Claim(tasks);
  }

  // The claim's tasks are in the pool. True when no other claim is out.
  [[nodiscard]] bool Submitted(Claim claim);

  // A task found nothing to take and ended.
  void TaskEnded() {
    assert(tasks_ > 0 && "DecodeTasks::TaskEnded without a task");
    --tasks_;
  }

  // Whether a thread is between ClaimUpTo and Submitted: the session must not end yet.
  bool claims_out() const { return claims_out_ > 0; }
  int tasks() const { return tasks_; }
  int max_tasks() const { return max_tasks_; }

 private:
  const int max_tasks_;
  int tasks_ = 0;       // queued or running
  int claims_out_ = 0;  // claims made, not yet handed back
};

}  // namespace batchd::pipeline
