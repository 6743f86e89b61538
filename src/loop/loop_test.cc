#include "loop/loop.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "base/fd.h"

namespace vmcat {
namespace {

class ByteCounter : public IoHandler {
 public:
  explicit ByteCounter(Loop* loop, int stop_after) : loop_(loop), stop_after_(stop_after) {}
  void OnIo(int fd, uint32_t) override {
    char buf[16];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0) bytes += static_cast<int>(n);
    if (bytes >= stop_after_) loop_->Stop();
  }
  int bytes = 0;

 private:
  Loop* loop_;
  int stop_after_;
};

TEST(LoopPollTest, IoArrivingWhilePollingIsHandled) {
  Loop loop;
  loop.set_poll_before_sleep(std::chrono::milliseconds(500));
  auto p = MakePipe(O_NONBLOCK);
  ASSERT_TRUE(p.ok());
  ByteCounter counter(&loop, 2);
  ASSERT_TRUE(loop.Add(p->read_end.get(), EPOLLIN, &counter).ok());
  ASSERT_EQ(write(p->write_end.get(), "a", 1), 1);  // handled first: polling starts
  std::thread late([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    (void)!write(p->write_end.get(), "b", 1);
  });
  ASSERT_TRUE(loop.Run().ok());
  late.join();
  EXPECT_EQ(counter.bytes, 2);
  loop.Remove(p->read_end.get());
}

TEST(LoopPollTest, PollingStopsForADueTimer) {
  Loop loop;
  // A window far longer than the timer: the timer must not wait for it.
  loop.set_poll_before_sleep(std::chrono::seconds(30));
  auto p = MakePipe(O_NONBLOCK);
  ASSERT_TRUE(p.ok());
  ByteCounter counter(&loop, 100);
  ASSERT_TRUE(loop.Add(p->read_end.get(), EPOLLIN, &counter).ok());
  ASSERT_EQ(write(p->write_end.get(), "a", 1), 1);
  bool fired = false;
  loop.AddTimer(std::chrono::milliseconds(10), [&] {
    fired = true;
    loop.Stop();
  });
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(loop.Run().ok());
  EXPECT_TRUE(fired);
  EXPECT_EQ(counter.bytes, 1);
  // Not a speed check: only that the 30 s window did not hold the timer back.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  loop.Remove(p->read_end.get());
}

}  // namespace
}  // namespace vmcat
