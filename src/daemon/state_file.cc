// The state file: small, rare writes (a drain, a recovery attempt), each one a complete JSON
// document replaced atomically. The writer thread exists so that the engine never waits for an
// fsync (a slow or full disk must not delay a failover); a burst of changes collapses into one
// write of the latest state.
#include "daemon/state_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "base/utc_stamp.h"

namespace pathpilot::daemon {
namespace {

constexpr int kFormatVersion = 1;
constexpr std::size_t kMaxFileBytes = 4 << 20;  // far above any real state; guards the reader

Result<WallTime> timeField(const nlohmann::json& j, const std::string& where) {
  if (!j.is_string()) {
    return fail(ErrorCode::InvalidArgument, where + ": expected an RFC 3339 time");
  }
  auto t = parseRfc3339(j.get<std::string>());
  if (!t) {
    return fail(t.error().withContext(where));
  }
  return *t;
}

Result<int> countField(const nlohmann::json& obj, const char* key, const std::string& where) {
  if (!obj.contains(key)) {
    return 0;
  }
  const auto& v = obj[key];
  // The upper bound keeps the value within an int.
  if (!v.is_number_integer() || v.get<long long>() < 0 || v.get<long long>() > 1000000) {
    return fail(ErrorCode::InvalidArgument, where + "." + key + ": expected a count");
  }
  return static_cast<int>(v.get<long long>());
}

Error sysError(const std::string& what, int err) {
  return Error(ErrorCode::Unavailable, what, err);
}

}  // namespace

std::string encodeState(const PersistentState& state, const std::string& site) {
  nlohmann::json j;
  j["version"] = kFormatVersion;
  // The site is for a reader of the file; decodeState does not read it back.
  j["site"] = site;
  j["drains"] = nlohmann::json::array();
  for (const auto& d : state.drains) {
    j["drains"].push_back(d);
  }
  nlohmann::json rec = nlohmann::json::object();
  for (const auto& [gateway, r] : state.recovery) {
    nlohmann::json g;
    g["starts"] = nlohmann::json::array();
    for (WallTime t : r.starts) {
      g["starts"].push_back(formatRfc3339(t));
    }
    g["attempts"] = r.attempts;
    g["failures"] = r.failures;
    if (r.not_before) {
      g["not_before"] = formatRfc3339(*r.not_before);
    }
    rec[gateway] = std::move(g);
  }
  j["recovery"] = std::move(rec);
  return j.dump(2) + "\n";
}

Result<PersistentState> decodeState(std::string_view text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return fail(ErrorCode::InvalidArgument, "not a JSON object");
  }
  // Only this exact version is read: a file in another format is moved aside by load()
  // rather than half-read.
  if (!j.contains("version") || !j["version"].is_number_integer() ||
      j["version"].get<long long>() != kFormatVersion) {
    return fail(ErrorCode::InvalidArgument, "version: expected " + std::to_string(kFormatVersion));
  }
  PersistentState out;
  if (j.contains("drains")) {
    if (!j["drains"].is_array()) {
      return fail(ErrorCode::InvalidArgument, "drains: expected a list of path names");
    }
    for (const auto& d : j["drains"]) {
      if (!d.is_string() || d.get<std::string>().empty()) {
        return fail(ErrorCode::InvalidArgument, "drains: expected path names");
      }
      out.drains.insert(d.get<std::string>());
    }
  }
  if (j.contains("recovery")) {
    if (!j["recovery"].is_object()) {
      return fail(ErrorCode::InvalidArgument, "recovery: expected a mapping by gateway");
    }
    for (const auto& [gateway, g] : j["recovery"].items()) {
      const std::string where = "recovery." + gateway;
      if (!g.is_object()) {
        return fail(ErrorCode::InvalidArgument, where + ": expected a mapping");
      }
      StoredRecovery r;
      if (g.contains("starts")) {
        if (!g["starts"].is_array() || g["starts"].size() > 10000) {
          return fail(ErrorCode::InvalidArgument, where + ".starts: expected a list of times");
        }
        for (const auto& t : g["starts"]) {
          auto parsed = timeField(t, where + ".starts");
          if (!parsed) {
            return fail(parsed.error());
          }
          r.starts.push_back(*parsed);
        }
      }
      auto attempts = countField(g, "attempts", where);
      auto failures = countField(g, "failures", where);
      if (!attempts || !failures) {
        return fail(!attempts ? attempts.error() : failures.error());
      }
      r.attempts = *attempts;
      r.failures = *failures;
      if (g.contains("not_before")) {
        auto parsed = timeField(g["not_before"], where + ".not_before");
        if (!parsed) {
          return fail(parsed.error());
        }
        r.not_before = *parsed;
      }
      out.recovery.emplace(gateway, std::move(r));
    }
  }
  return out;
}

StateFile::StateFile(std::string path, std::string site)
    : path_(std::move(path)), site_(std::move(site)) {
  if (!path_.empty()) {
    writer_ = std::thread([this] { writerLoop(); });
  }
}

StateFile::~StateFile() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (writer_.joinable()) {
    writer_.join();
  }
}

PersistentState StateFile::load(std::string& problem) {
  problem.clear();
  if (path_.empty()) {
    return {};
  }
  std::error_code ec;
  if (!std::filesystem::exists(path_, ec)) {
    return {};
  }
  std::string why;
  Result<PersistentState> decoded = fail(ErrorCode::Internal, "");
  // O_NONBLOCK: a FIFO planted at the path must not hang the start-up.
  int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  struct stat st {};
  if (fd < 0) {
    why = std::string("cannot open: ") + std::strerror(errno);
  } else if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    why = "not a regular file";
  } else if (static_cast<std::size_t>(st.st_size) > kMaxFileBytes) {
    why = "larger than " + std::to_string(kMaxFileBytes) + " bytes";
  } else {
    std::string text(static_cast<std::size_t>(st.st_size), '\0');
    ssize_t n = ::read(fd, text.data(), text.size());
    if (n < 0 || static_cast<std::size_t>(n) != text.size()) {
      why = "short read";
    } else {
      decoded = decodeState(text);
      if (!decoded) {
        why = decoded.error().message();
      }
    }
  }
  if (fd >= 0) {
    ::close(fd);
  }
  if (why.empty()) {
    return *decoded;
  }
  const std::string aside = moveAside(path_, std::chrono::system_clock::now(), ec);
  problem = "state file " + path_ + " is unusable (" + why + "); " +
            (ec ? "could not move it aside (" + ec.message() + ")" : "moved aside to " + aside) +
            "; starting without saved drains and recovery limits";
  return {};
}

void StateFile::save(const PersistentState& state) {
  if (path_.empty()) {
    return;
  }
  std::string text = encodeState(state, site_);
  {
    std::lock_guard lock(mu_);
    pending_ = std::move(text);
    ++queued_;
  }
  cv_.notify_all();
}

Result<void> StateFile::flush() {
  std::unique_lock lock(mu_);
  const std::uint64_t target = queued_;
  // The thread-id test covers a StateFile without a writer thread, whose written_ never
  // moves.
  cv_.wait(lock, [&] { return written_ >= target || writer_.get_id() == std::thread::id(); });
  if (last_error_) {
    return fail(*last_error_);
  }
  return ok();
}

StateFileStats StateFile::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void StateFile::writerLoop() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return pending_.has_value() || stopping_; });
    if (!pending_) {
      return;  // stopping with nothing left
    }
    std::string text = std::move(*pending_);
    pending_.reset();
    // Read under the lock that took the text: the text is the latest of the saves counted up
    // to `target`, so writing it covers all of them.
    const std::uint64_t target = queued_;
    // The I/O runs without the lock, so that save() never waits for an fsync.
    lock.unlock();
    Result<void> r = writeNow(text);
    lock.lock();
    written_ = target;
    // `writes` counts attempts, failed ones included. A success clears an earlier error: flush()
    // reports whether the latest state reached the disk.
    ++stats_.writes;
    if (!r) {
      ++stats_.failures;
      last_error_ = r.error();
    } else {
      last_error_.reset();
    }
    cv_.notify_all();
  }
}

// tmp file in the same directory (rename is atomic only within a file system), 0600 from the
// start (it may name gateways and paths an operator considers internal), fsync before the
// rename so that the new name never points at an empty file after a power cut, fsync of the
// directory so that the rename itself is durable.
Result<void> StateFile::writeNow(const std::string& text) {
  namespace fs = std::filesystem;
  const std::string tmp = path_ + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return fail(sysError("state file " + tmp + ": cannot create", errno));
  }
  const char* data = text.data();
  std::size_t left = text.size();
  // write() may take fewer bytes than offered, or be interrupted by a signal (EINTR).
  while (left > 0) {
    ssize_t n = ::write(fd, data, left);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return fail(sysError("state file " + tmp + ": write failed", err));
    }
    data += n;
    left -= static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return fail(sysError("state file " + tmp + ": fsync failed", err));
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path_.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return fail(sysError("state file " + path_ + ": rename failed", err));
  }
  fs::path dir = fs::path(path_).parent_path();
  int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
  return ok();
}

}  // namespace pathpilot::daemon
