// `pathpilot events`: search the event journal.
//
//   pathpilot events [--journal FILE | -c CONFIG] [--site S] [--path P] [--link dx|vpn]
//                    [--kind K] [--route-table R] [--severity info|warning|critical]
//                    [--since 1h|RFC3339] [--until 1h|RFC3339] [--grep TEXT] [--limit N] [--json]
//
// Reads the SQLite journal read-only, so it is safe while the daemon writes it (WAL mode).
// The journal is --journal FILE, else journal.sqlite of the config given with -c, else
// /var/lib/pathpilot/journal.db. Events come newest first; --limit (default 100, 0 = all)
// keeps the newest N. Output: one aligned line per event (journal/text_format.h), or with
// --json one JSON object per line (the same form as the daemon's JSON Lines file).
// --grep searches message and reason by words (journal/query.h): `--grep "link down"` finds
// both words, `--grep '"link down"'` the phrase, `--grep 'i-0e14*'` a prefix.
// Exit: 0 (also when nothing matches), 1 journal missing/unreadable/damaged, 2 bad arguments.
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/time.h"
#include "cli/command.h"
#include "config/loader.h"
#include "journal/event.h"
#include "journal/query.h"
#include "journal/sqlite_store.h"
#include "journal/text_format.h"

namespace pathpilot::cli {
namespace {

constexpr const char* kDefaultJournal = "/var/lib/pathpilot/journal.db";

struct EventsOptions {
  std::string journal;
  std::string config;
  std::string site;
  std::string path;
  std::string link;
  std::string kind;
  std::string route_table;
  std::string severity;
  std::string since;
  std::string until;
  std::string grep;
  std::size_t limit = 100;
  bool json = false;
};

int usageError(const std::string& message) {
  std::fprintf(stderr, "pathpilot events: %s\n", message.c_str());
  return kExitUsage;
}

int failure(const std::string& message) {
  std::fprintf(stderr, "pathpilot events: %s\n", message.c_str());
  return kExitFailure;
}

// Builds the query from the options; returns an exit code on a usage error.
std::optional<int> buildQuery(const EventsOptions& o, WallTime now, journal::Query& q) {
  auto set = [](const std::string& value, std::optional<std::string>& field) {
    if (!value.empty()) {
      field = value;
    }
  };
  set(o.site, q.site);
  set(o.path, q.path);
  set(o.route_table, q.route_table);
  if (!o.link.empty()) {
    auto link = journal::parseLink(o.link);
    if (!link) {
      return usageError("--link: " + link.error().message());
    }
    q.link = *link;
  }
  if (!o.kind.empty()) {
    auto kind = journal::parseEventKind(o.kind);
    if (!kind) {
      return usageError("--kind: " + kind.error().message());
    }
    q.kind = *kind;
  }
  if (!o.severity.empty()) {
    auto severity = journal::parseSeverity(o.severity);
    if (!severity) {
      return usageError("--severity: " + severity.error().message());
    }
    q.min_severity = *severity;
  }
  if (!o.since.empty()) {
    auto since = journal::parseTimeArgument(o.since, now);
    if (!since) {
      return usageError("--since: " + since.error().message());
    }
    q.since = *since;
  }
  if (!o.until.empty()) {
    auto until = journal::parseTimeArgument(o.until, now);
    if (!until) {
      return usageError("--until: " + until.error().message());
    }
    q.until = *until;
  }
  if (q.since && q.until && *q.until <= *q.since) {
    return usageError("--until must be later than --since");
  }
  q.text = o.grep;
  q.limit = o.limit;
  return std::nullopt;
}

// The journal file to read; returns an exit code when the config cannot tell.
std::optional<int> journalPath(const EventsOptions& o, std::string& path) {
  if (!o.journal.empty()) {
    path = o.journal;
    return std::nullopt;
  }
  if (o.config.empty()) {
    path = kDefaultJournal;
    return std::nullopt;
  }
  auto config = config::loadFile(o.config);
  if (!config) {
    return failure("cannot read the journal location from " + o.config + ":\n" +
                   config.error().toString());
  }
  if (config->journal.sqlite.empty()) {
    return failure(o.config + " disables the SQLite journal (journal.sqlite is empty): there " +
                   "is nothing to search; the JSON Lines file is " +
                   (config->journal.jsonl.empty() ? "disabled too" : config->journal.jsonl));
  }
  path = config->journal.sqlite;
  return std::nullopt;
}

int runEvents(const EventsOptions& o) {
  RealClock clock;
  journal::Query query;
  if (auto rc = buildQuery(o, clock.wallNow(), query)) {
    return *rc;
  }
  std::string path;
  if (auto rc = journalPath(o, path)) {
    return *rc;
  }
  auto store = journal::SqliteStore::openReadOnly(path);
  if (!store) {
    std::string hint;
    if (store.error().code() == ErrorCode::NotFound && o.journal.empty() && o.config.empty()) {
      hint = " (is the daemon running with a journal? give the file with --journal FILE or "
             "the daemon's config with -c CONFIG)";
    }
    return failure(store.error().toString() + hint);
  }

  if (o.json) {
    // Streamed: --limit 0 over a big journal never holds everything in memory.
    auto visited = (*store)->forEach(query, [](const journal::Event& e) {
      std::string line = journal::toJsonLine(e);
      line += '\n';
      return std::fwrite(line.data(), 1, line.size(), stdout) == line.size();
    });
    if (!visited) {
      return failure(visited.error().toString());
    }
    return std::fflush(stdout) == 0 ? kExitOk : kExitFailure;
  }

  auto events = (*store)->search(query);
  if (!events) {
    return failure(events.error().toString());
  }
  if (events->empty()) {
    std::fputs("no events match\n", stderr);
    return kExitOk;
  }
  std::string table = journal::formatEventTable(*events);
  std::fwrite(table.data(), 1, table.size(), stdout);
  return std::fflush(stdout) == 0 ? kExitOk : kExitFailure;
}

}  // namespace

Command addEventsCommand(CLI::App& root) {
  auto options = std::make_shared<EventsOptions>();
  auto* app = root.add_subcommand("events", "Search the event journal (newest first)");
  auto* journal_opt = app->add_option("--journal", options->journal,
                                      std::string("SQLite journal file (default ") +
                                          kDefaultJournal + ")");
  auto* config_opt = app->add_option("-c,--config", options->config,
                                     "read the journal location from this config file");
  journal_opt->excludes(config_opt);
  app->add_option("--site", options->site, "only this site (exact name)");
  app->add_option("--path", options->path, "only this path (e.g. dx, vpn-a)");
  app->add_option("--link", options->link, "only this link kind")
      ->check(CLI::IsMember({"dx", "vpn"}));
  app->add_option("--kind", options->kind, "only this event kind (e.g. path_down)");
  app->add_option("--route-table", options->route_table, "only this route table");
  app->add_option("--severity", options->severity, "at least this severity")
      ->check(CLI::IsMember({"info", "warning", "critical"}));
  app->add_option("--since", options->since, "from this time: a duration ago (1h, 7d) or RFC 3339");
  app->add_option("--until", options->until, "before this time: a duration ago or RFC 3339");
  app->add_option("--grep", options->grep,
                  "words in message or reason; \"quoted phrase\"; word* for a prefix");
  app->add_option("--limit", options->limit, "newest N events, 0 = all")
      ->capture_default_str()
      ->check(CLI::Validator(
          [](std::string& value) -> std::string {
            bool digits = !value.empty() && value.size() <= 12 &&
                          value.find_first_not_of("0123456789") == std::string::npos;
            return digits ? "" : "must be a whole number >= 0 (0 = all), not \"" + value + "\"";
          },
          "N", "NonNegativeInteger"));
  app->add_flag("--json", options->json, "one JSON object per line");
  return {app, [options] { return runEvents(*options); }};
}

}  // namespace pathpilot::cli
