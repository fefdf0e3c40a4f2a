// daemon/secrets.h — what the daemon does so that its secrets stay its own.
//
// Purpose:
//   - knownSecrets(): every secret value the config makes the daemon load — the API token,
//     each alert channel's URL (with its token), signing secret, bearer token and SMTP
//     password, whether inline, {env: NAME} or {file: PATH} — plus the AWS keys in the
//     daemon's environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, ...).
//     The daemon publishes them as one Redactor (base/redact.h) that scrubs hook and recovery
//     command output (runtime/process_runner.h) and every event the engine emits, before
//     the log, the journal, the API and alerts see them. A secret that cannot be read is
//     skipped here (the module that needs it reports the error).
//   - redactEvent(): an event with every string field scrubbed.
//   - disableCoreDumps(): prctl(PR_SET_DUMPABLE, 0) and RLIMIT_CORE 0 at start, so that a
//     crash leaves no memory image with tokens and keys on disk (and other processes of the
//     same user cannot ptrace the daemon or read its /proc/PID/environ and mem).
//
// Threading: knownSecrets reads files and the environment (start and reload, engine thread);
// the returned Redactor is immutable and shared with worker threads.
// Metrics: none.
#pragma once

#include <memory>

#include "alert/secret.h"
#include "base/error.h"
#include "base/redact.h"
#include "config/config.h"
#include "journal/event.h"

namespace pathpilot::daemon {

// The secrets of `config` and the AWS credential variables of `env`.
std::shared_ptr<const Redactor> knownSecrets(const config::Config& config,
                                             const alert::EnvGetter& env);

// `e` with every secret in its text fields replaced by "<redacted>".
journal::Event redactEvent(journal::Event e, const Redactor& redactor);

// Turns core dumps off for this process (see above). Errors: the prctl or setrlimit failed.
[[nodiscard]] Result<void> disableCoreDumps();

}  // namespace pathpilot::daemon
