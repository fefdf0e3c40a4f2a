#include "config/secret_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

namespace pathpilot::config {
namespace {

std::string octalMode(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

std::string fileType(mode_t mode) {
  if (S_ISFIFO(mode)) {
    return "a FIFO";
  }
  if (S_ISDIR(mode)) {
    return "a directory";
  }
  if (S_ISCHR(mode) || S_ISBLK(mode)) {
    return "a device";
  }
  if (S_ISSOCK(mode)) {
    return "a socket";
  }
  return "a special file";
}

// How errors designate the file.
std::string designation(const std::string& path, std::string_view name) {
  return name.empty() ? "secret file " + path : std::string(name);
}

// The checks on what stat/fstat said about the file.
Result<void> checkStat(const struct stat& st, std::size_t max_bytes, const std::string& name,
                       const std::string& path) {
  if (!S_ISREG(st.st_mode)) {
    return fail(ErrorCode::InvalidArgument,
                name + " is " + fileType(st.st_mode) + ", not a regular file");
  }
  if ((st.st_mode & 077) != 0) {
    return fail(ErrorCode::PermissionDenied, name + " is accessible by group or others (mode " +
                                                 octalMode(st.st_mode) + "); run chmod 600 " +
                                                 path);
  }
  // One trailing CRLF is allowed beyond the limit.
  if (st.st_size > static_cast<off_t>(max_bytes + 2)) {
    return fail(ErrorCode::InvalidArgument,
                name + " is larger than " + std::to_string(max_bytes) + " bytes");
  }
  return ok();
}

Error openError(const std::string& name, int err) {
  if (err == ENOENT) {
    return Error(ErrorCode::NotFound, name + " does not exist", err);
  }
  if (err == EACCES) {
    return Error(ErrorCode::PermissionDenied, "cannot read " + name + ": permission denied", err);
  }
  return Error::fromErrno("cannot open " + name, err);
}

}  // namespace

Result<std::string> readSecretFile(const std::string& path, std::size_t max_bytes,
                                   std::string_view name_view) {
  const std::string name = designation(path, name_view);
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer. open + fstat
  // (not stat + open): the checks apply to the file actually read.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    return fail(openError(name, errno));
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return fail(Error::fromErrno("cannot stat " + name, errno));
  }
  if (auto checked = checkStat(st, max_bytes, name, path); !checked) {
    return fail(checked.error());
  }
  std::string data(max_bytes + 3, '\0');
  std::size_t got = 0;
  while (got < data.size()) {
    ssize_t n = ::read(fd, data.data() + got, data.size() - got);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return fail(Error::fromErrno("cannot read " + name, errno));
    }
    if (n == 0) {
      break;
    }
    got += static_cast<std::size_t>(n);
  }
  data.resize(got);
  if (!data.empty() && data.back() == '\n') {
    data.pop_back();
    if (!data.empty() && data.back() == '\r') {
      data.pop_back();
    }
  }
  // The file grew between fstat and read.
  if (data.size() > max_bytes) {
    return fail(ErrorCode::InvalidArgument,
                name + " is larger than " + std::to_string(max_bytes) + " bytes");
  }
  return data;
}

Result<void> checkSecretFile(const std::string& path, std::size_t max_bytes,
                             std::string_view name_view) {
  const std::string name = designation(path, name_view);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return fail(openError(name, errno));
  }
  return checkStat(st, max_bytes, name, path);
}

}  // namespace pathpilot::config
