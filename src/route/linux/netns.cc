#include "route/linux/netns.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>

#include "base/check.h"

namespace pathpilot::route {

Result<std::string> netnsPath(std::string_view netns) {
  if (netns.empty()) {
    return std::string();
  }
  if (netns.front() == '/') {
    return std::string(netns);
  }
  if (netns == "." || netns == ".." || netns.find('/') != std::string_view::npos ||
      netns.find('\0') != std::string_view::npos) {
    return fail(ErrorCode::InvalidArgument,
                "invalid network namespace name \"" + std::string(netns) + "\"");
  }
  return "/run/netns/" + std::string(netns);
}

std::string netnsSuffix(std::string_view netns) {
  return netns.empty() ? std::string() : " (netns " + std::string(netns) + ")";
}

Result<void> runInNetns(std::string_view netns, const std::function<void()>& fn) {
  auto path = netnsPath(netns);
  if (!path) {
    return fail(path.error());
  }
  if (path->empty()) {
    fn();
    return ok();
  }
  int target = ::open(path->c_str(), O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    int err = errno;
    if (err == ENOENT) {
      return fail(ErrorCode::NotFound,
                  "network namespace \"" + std::string(netns) + "\" not found (" + *path + ")",
                  err);
    }
    return fail(Error::fromErrno("cannot open network namespace " + *path, err));
  }
  int self = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (self < 0) {
    int err = errno;
    ::close(target);
    return fail(Error::fromErrno("cannot open /proc/thread-self/ns/net", err));
  }
  if (::setns(target, CLONE_NEWNET) != 0) {
    int err = errno;
    ::close(target);
    ::close(self);
    if (err == EPERM) {
      return fail(ErrorCode::PermissionDenied,
                  "cannot enter network namespace \"" + std::string(netns) +
                      "\" (needs CAP_SYS_ADMIN)",
                  err);
    }
    if (err == EINVAL) {
      return fail(ErrorCode::InvalidArgument,
                  *path + " is not a network namespace", err);
    }
    return fail(Error::fromErrno("setns " + *path, err));
  }
  ::close(target);
  fn();
  int restored = ::setns(self, CLONE_NEWNET);
  ::close(self);
  PP_CHECK_MSG(restored == 0, "cannot return to the original network namespace");
  return ok();
}

}  // namespace pathpilot::route
