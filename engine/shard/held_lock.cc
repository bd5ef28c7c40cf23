#include "engine/shard/held_lock.h"

#include <exception>

#include "engine/common/assert.h"

namespace engine {

namespace {
// A simulated crash unwinds its tasks by an exception; their locks then
// neither block nor change, so how they look here says nothing.
bool Unwinding() { return std::uncaught_exceptions() > 0; }
}  // namespace

HeldMutex::HeldMutex(std::unique_ptr<Mutex> mutex) : mutex_(std::move(mutex)) { SS_ASSERT(mutex_ != nullptr); }

void HeldMutex::Lock() {
  mutex_->Lock();
  SS_ASSERT(Unwinding() || !held_.load(), "a mutex taken while held");
  held_.store(true);
}

void HeldMutex::Unlock() {
  SS_ASSERT(Unwinding() || held_.load(), "a mutex released while not held");
  held_.store(false);
  mutex_->Unlock();
}

HeldRwLock::HeldRwLock(std::unique_ptr<RwLock> lock) : lock_(std::move(lock)) { SS_ASSERT(lock_ != nullptr); }

void HeldRwLock::LockShared() {
  lock_->LockShared();
  SS_ASSERT(Unwinding() || !writer_.load(), "a read taken while the write lock is held");
  readers_.fetch_add(1);
}

void HeldRwLock::UnlockShared() {
  SS_ASSERT(Unwinding() || readers_.load() > 0, "a read released while none is held");
  readers_.fetch_sub(1);
  lock_->UnlockShared();
}

void HeldRwLock::LockUpgradable() {
  lock_->LockUpgradable();
  SS_ASSERT(Unwinding() || !upgradable_.load(), "two upgradable reads at once");
  SS_ASSERT(Unwinding() || !writer_.load(), "an upgradable read taken while the write lock is held");
  upgradable_.store(true);
}

void HeldRwLock::UnlockUpgradable() {
  // Unwinding may skip the Downgrade that pairs with an Upgrade.
  SS_ASSERT(Unwinding() || upgradable_held(), "an upgradable read released while not held (or upgraded)");
  upgradable_.store(false);
  if (Unwinding()) writer_.store(false);
  lock_->UnlockUpgradable();
}

void HeldRwLock::Upgrade() {
  SS_ASSERT(Unwinding() || upgradable_held(), "an upgrade without the upgradable read");
  lock_->Upgrade();
  SS_ASSERT(Unwinding() || readers_.load() == 0, "upgraded while {} readers remain", readers_.load());
  writer_.store(true);
}

void HeldRwLock::Downgrade() {
  SS_ASSERT(Unwinding() || writer_.load(), "a downgrade without the write lock");
  SS_ASSERT(Unwinding() || upgradable_.load(), "a downgrade of a write lock not taken by upgrading");
  writer_.store(false);
  lock_->Downgrade();
}

void HeldRwLock::Lock() {
  lock_->Lock();
  SS_ASSERT(Unwinding() || readers_.load() == 0, "the write lock taken while {} readers hold it", readers_.load());
  SS_ASSERT(Unwinding() || (!upgradable_.load() && !writer_.load()), "the write lock taken while held exclusively");
  writer_.store(true);
}

void HeldRwLock::Unlock() {
  SS_ASSERT(Unwinding() || writer_.load(), "a write lock released while not held");
  SS_ASSERT(Unwinding() || !upgradable_.load(), "an upgraded lock released as a write lock");
  writer_.store(false);
  lock_->Unlock();
}

}  // namespace engine
