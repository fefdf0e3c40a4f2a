// journal/jsonl_sink.h — events as JSON Lines, for log shippers (filebeat, logstash, Loki).
//
// Purpose: append each Event as one JSON object per line (journal/event.h: toJsonLine;
// RFC 3339 ms timestamps, stable field names) to a file that is only ever appended to
// (O_APPEND), so that a shipper can tail it and logrotate can rotate it: after logrotate
// renames the file, reopen() (the daemon calls it on SIGHUP) starts a new file at the same
// path. With `copytruncate` no reopen is needed: O_APPEND writes continue at the new end.
//
// Threading: one thread at a time (the Journal's writer thread).
// Metrics: none itself; the Journal counts failures.
#pragma once

#include <memory>
#include <span>
#include <string>

#include "base/error.h"
#include "journal/event.h"

namespace pathpilot::journal {

class JsonlSink {
 public:
  // Opens (creating with mode 0640 if needed) `path` for appending. Errors name the file:
  //   NotFound          "events file /x/e.jsonl: directory /x does not exist"
  //   PermissionDenied  "events file /x/e.jsonl: cannot open for appending" (+ errno EACCES;
  //                     Error::toString() appends "Permission denied")
  [[nodiscard]] static Result<std::unique_ptr<JsonlSink>> open(const std::string& path);

  ~JsonlSink();
  JsonlSink(const JsonlSink&) = delete;
  JsonlSink& operator=(const JsonlSink&) = delete;

  // Appends one line per event with a single write(2) per call where the kernel allows
  // (lines of one batch are never interleaved with another writer's). Partial writes are
  // continued; on failure the error names the file.
  [[nodiscard]] Result<void> write(std::span<const Event> events);

  // Closes the file and opens `path` again (log rotation). If opening fails the old
  // descriptor is kept, so no event is lost, and the error is returned.
  [[nodiscard]] Result<void> reopen();

  // fdatasync(2): makes the lines written so far durable.
  [[nodiscard]] Result<void> sync();

  const std::string& path() const { return path_; }

 private:
  JsonlSink(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  static Result<int> openFd(const std::string& path);

  std::string path_;
  int fd_ = -1;
  std::string buffer_;  // reused between calls
};

}  // namespace pathpilot::journal
