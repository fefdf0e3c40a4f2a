#include "journal/jsonl_sink.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <system_error>

namespace pathpilot::journal {
namespace {

std::string contextFor(const std::string& path) { return "events file " + path; }

Error sysError(const std::string& path, std::string_view what, int err) {
  ErrorCode code = ErrorCode::Unavailable;
  if (err == EACCES || err == EPERM || err == EROFS) {
    code = ErrorCode::PermissionDenied;
  } else if (err == ENOENT || err == ENOTDIR) {
    code = ErrorCode::NotFound;
  } else if (err == EISDIR) {
    code = ErrorCode::InvalidArgument;
  }
  // The errno's text is added by Error::toString().
  return Error(code, contextFor(path) + ": " + std::string(what), err);
}

}  // namespace

Result<int> JsonlSink::openFd(const std::string& path) {
  namespace fs = std::filesystem;
  if (path.empty()) {
    return fail(ErrorCode::InvalidArgument, "events file: empty file name");
  }
  fs::path parent = fs::path(path).parent_path();
  if (parent.empty()) {
    parent = ".";
  }
  std::error_code ec;
  if (!fs::exists(fs::status(parent, ec))) {
    return fail(ErrorCode::NotFound,
                contextFor(path) + ": directory " + parent.string() + " does not exist");
  }
  // O_APPEND: every write lands at the current end, even after copytruncate or when another
  // process appends too. O_CLOEXEC: not inherited by recovery commands we spawn.
  // A file we create gets exactly 0640 (events name internal hosts and addresses), whatever
  // the umask; an existing one keeps the mode its owner gave it (a log shipper's group).
  constexpr int kAppend = O_WRONLY | O_APPEND | O_CLOEXEC;
  for (int attempt = 0; attempt < 2; ++attempt) {
    int fd = ::open(path.c_str(), kAppend | O_CREAT | O_EXCL, 0640);
    if (fd >= 0) {
      if (::fchmod(fd, 0640) != 0) {
        int err = errno;
        ::close(fd);
        return fail(sysError(path, "cannot set mode 0640", err));
      }
      return fd;
    }
    if (errno != EEXIST) {
      return fail(sysError(path, "cannot open for appending", errno));
    }
    fd = ::open(path.c_str(), kAppend);
    if (fd >= 0) {
      return fd;
    }
    if (errno != ENOENT) {  // ENOENT: removed (rotated) in between; create it then
      return fail(sysError(path, "cannot open for appending", errno));
    }
  }
  return fail(sysError(path, "cannot open for appending", ENOENT));
}

Result<std::unique_ptr<JsonlSink>> JsonlSink::open(const std::string& path) {
  auto fd = openFd(path);
  if (!fd) {
    return fail(fd.error());
  }
  return std::unique_ptr<JsonlSink>(new JsonlSink(path, *fd));
}

JsonlSink::~JsonlSink() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

// The whole batch is built first and written with as few write(2) calls as the kernel allows:
// with O_APPEND each call lands atomically at the end, so a shipper tailing the file sees
// whole lines, and lines of one batch stay together.
//
// All or nothing: when a write fails part-way (ENOSPC after some lines went out), the file is
// cut back to its size before the batch, so that the caller can retry the whole batch later
// without leaving a torn line or writing the first lines twice. The journal is the only writer
// of this file; a concurrent appender (or a copytruncate between fstat and ftruncate) is the
// one case where the cut could misplace, and then it errs by keeping bytes, never by cutting
// someone else's.
Result<void> JsonlSink::write(std::span<const Event> events) {
  buffer_.clear();
  for (const Event& e : events) {
    buffer_ += toJsonLine(e);
    buffer_ += '\n';
  }
  struct stat before {};
  const bool sized = ::fstat(fd_, &before) == 0 && S_ISREG(before.st_mode);
  const char* data = buffer_.data();
  std::size_t left = buffer_.size();
  while (left > 0) {
    ssize_t n = ::write(fd_, data, left);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      int err = errno;
      struct stat now {};
      if (sized && left < buffer_.size() && ::fstat(fd_, &now) == 0 &&
          now.st_size >= before.st_size) {
        (void)::ftruncate(fd_, before.st_size);
      }
      return fail(sysError(path_, "write failed", err));
    }
    data += n;
    left -= static_cast<std::size_t>(n);
  }
  // Do not keep a huge buffer around after a burst.
  if (buffer_.capacity() > (1u << 20)) {
    std::string().swap(buffer_);
  }
  return ok();
}

// Open the new file before closing the old one: if the new open fails (directory gone,
// permissions changed by a rotation tool), writing simply continues in the old file.
Result<void> JsonlSink::reopen() {
  auto fd = openFd(path_);
  if (!fd) {
    return fail(fd.error());
  }
  ::close(fd_);
  fd_ = *fd;
  return ok();
}

Result<void> JsonlSink::sync() {
  if (::fdatasync(fd_) != 0) {
    return fail(sysError(path_, "fdatasync failed", errno));
  }
  return ok();
}

}  // namespace pathpilot::journal
