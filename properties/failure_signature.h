// A failure's signature: what groups two failing runs as one bug, what a
// shrinker must keep while it reduces a run, and what a campaign's JSON
// names per group. Two runs that break the same invariant for different
// causes ("EIO on syncdir" against "EIO on read") get different
// signatures; two runs that differ only in ids, counts, paths or values get
// the same one.
//
// Pure functions of the invariant and the failure message; no engine state.
#pragma once

#include <string>
#include <string_view>

namespace properties {

struct FailureSignature {
  std::string invariant;      // "recovery", "ack-durability", "run-outcome", ...
  std::string check;          // the message's first clause, normalised: which check or op failed
  std::string component;      // the engine part the message names: "wal", "segment", "snapshot", ...
  std::string message_class;  // the rest of the message, normalised (the error's class)

  // "invariant | check | component | message_class": equal keys, same bug.
  std::string Key() const;
  bool operator==(const FailureSignature&) const = default;
};

// The message with what varies between runs of one bug replaced: numbers
// by N, paths by <path>, bracketed and quoted values by […], "…".
// Bounded: at most kMaxMessageClassBytes.
std::string NormaliseFailureMessage(std::string_view message);
inline constexpr size_t kMaxMessageClassBytes = 200;

// REQUIRES: invariant is not empty (a passing run has no signature).
FailureSignature SignatureOf(std::string_view invariant, std::string_view message);

}  // namespace properties
