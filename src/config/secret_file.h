// config/secret_file.h — the checks every secret file gets (API token, alert channel secrets).
//
// Purpose: a secret written as {file: PATH} is read by the daemon at start and at every reload
// (SIGHUP), and looked at by `pathpilot check`. The file must be
//   - a regular file: a FIFO would block the reading thread until someone writes to it (a
//     reload that never finishes), a device could be endless. The file is opened with
//     O_NONBLOCK and fstat'ed before anything is read, so even a FIFO swapped in after a
//     check never blocks;
//   - accessible by its owner only (no permission bit in 077, as ssh demands of private
//     keys): the error names the file, its mode and the fix (`chmod 600 PATH`);
//   - at most `max_bytes` long.
// The content is the secret, with one trailing newline (LF or CRLF) removed. Errors name the
// file as `name` says ("secret file /etc/pathpilot/smtp.pass" when empty, "token file PATH",
// "secret file:PATH") and never its content.
//
// Threading: reentrant (system calls only). Metrics: none.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "base/error.h"

namespace pathpilot::config {

// The largest secret file pathpilot reads.
inline constexpr std::size_t kMaxSecretFileBytes = 64 * 1024;

// Reads the secret in `path`. `name` designates the file at the start of every error (empty:
// "secret file PATH"). Errors: NotFound (missing), PermissionDenied (unreadable, or
// group/other permission bits), InvalidArgument (not a regular file, larger than max_bytes).
[[nodiscard]] Result<std::string> readSecretFile(const std::string& path,
                                                 std::size_t max_bytes = kMaxSecretFileBytes,
                                                 std::string_view name = {});

// The same checks with stat(2) only — nothing is opened, so it needs no read permission and
// never blocks: for `pathpilot check`. Same errors as readSecretFile.
[[nodiscard]] Result<void> checkSecretFile(const std::string& path,
                                           std::size_t max_bytes = kMaxSecretFileBytes,
                                           std::string_view name = {});

}  // namespace pathpilot::config
