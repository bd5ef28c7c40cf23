// The one source of every nondeterministic choice in a simulated run: which
// task runs next, a timer's jitter, whether a fault fires, which unsynced
// blocks survive a crash, the workload's operations.
//
// Two kinds: a seeded PRNG, and a byte tape (a fuzzer's input, a shrunk
// reproducer). Wrapping any source in a TapeRecorder records the exact tape
// that replays it: a draw with bound B is encoded in ceil(log256(B)) bytes,
// big-endian, so the recorded value (always < B) comes back unchanged.
// An exhausted tape answers 0: zero bytes are the "simplest" choice, which
// is what a shrinker moves towards.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include <pcg_random.hpp>

namespace sim {

class DecisionSource {
 public:
  virtual ~DecisionSource() = default;

  // Returns a value in [0, bound). REQUIRES: bound >= 1. A bound of 1 draws
  // nothing (a choice with one option is no choice).
  virtual uint64_t Draw(uint64_t bound) = 0;

  // True with the given probability (resolution 1/65536). Probabilities <= 0
  // and >= 1 draw nothing.
  bool Chance(double probability);

  // True with the given probability, like Chance, but a draw of 0 answers
  // false: for faults, so that an exhausted tape (a shrinker's zeros)
  // injects none rather than one at every call.
  bool Rare(double probability);

  // A value in [low, high]. REQUIRES: low <= high.
  uint64_t Between(uint64_t low, uint64_t high);
};

// Bytes needed to encode a draw with this bound.
int DrawWidthBytes(uint64_t bound);

// PCG64 (O'Neill's pcg-cpp, Debian libpcg-cpp-dev): its output sequence is
// fixed by the algorithm, so the same seed gives the same draws everywhere,
// and a draw costs a few instructions (the scheduler draws on every step;
// std::mt19937_64 cost 4x as much). Bounded draws use Lemire's
// multiply-and-reject, which is unbiased and also fully specified.
class PrngSource final : public DecisionSource {
 public:
  explicit PrngSource(uint64_t seed) : engine_(seed) {}
  uint64_t Draw(uint64_t bound) override;

 private:
  pcg64 engine_;
};

class TapeSource final : public DecisionSource {
 public:
  explicit TapeSource(std::span<const uint8_t> tape) : tape_(tape.begin(), tape.end()) {}
  uint64_t Draw(uint64_t bound) override;

  size_t consumed_bytes() const { return position_; }
  bool exhausted() const { return position_ >= tape_.size(); }

 private:
  std::vector<uint8_t> tape_;
  size_t position_ = 0;
};

// Forwards to `inner` and appends each draw to a tape that replays it.
class TapeRecorder final : public DecisionSource {
 public:
  explicit TapeRecorder(DecisionSource& inner) : inner_(inner) {}
  uint64_t Draw(uint64_t bound) override;

  const std::vector<uint8_t>& tape() const { return tape_; }
  uint64_t draws() const { return draws_; }

 private:
  DecisionSource& inner_;
  std::vector<uint8_t> tape_;
  uint64_t draws_ = 0;
};

}  // namespace sim
