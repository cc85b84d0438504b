// The benchmark modes, written once over a socket API `Net` that each program supplies
// (ustack_bench.cpp: the WSP API; linux_bench.cpp: BSD sockets), so both ends of every pair run
// the same protocol with the same checks. A Net provides, all thread-safe:
//
//   using Sock; static constexpr Sock kInvalid;
//   Sock connect(uint32_t addr_host_order, unsigned port, bool nodelay, std::string& err);
//   Sock listen(unsigned port, int backlog, bool nodelay, std::string& err);
//   Sock accept(Sock listener, std::string& err);
//   void wake_listener(Sock);  // blocked and later accepts fail; close_listener frees it
//   void close_listener(Sock);
//   long send(Sock, const unsigned char*, size_t, std::string& err);  // bytes taken, -1
//   long recv(Sock, unsigned char*, size_t, std::string& err);        // 0: end of stream, -1
//   bool shutdown_send(Sock, std::string& err);
//   bool close(Sock, std::string& err);
//   bool send_disconnect(Sock, const unsigned char*, size_t, std::string& err);
//   long recv_disconnect(Sock, unsigned char*, size_t, std::string& err);
//   void mem_begin(); std::string mem_end();  // extra memory figures of mode hold
//
// Errors are names (WSAECONNRESET, ECONNRESET). A wrong byte anywhere is fatal (exit 1); errors
// of single connections in connrate are counted and reported, and fatal only if none succeeded.
#pragma once

#include <atomic>
#include <latch>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench_common.hpp"

namespace bench {

template <class Net>
bool send_all(Net& net, typename Net::Sock s, const unsigned char* p, std::size_t n,
              std::string& err) {
    while (n > 0) {
        const long k = net.send(s, p, n, err);
        if (k < 0)
            return false;
        p += k;
        n -= static_cast<std::size_t>(k);
    }
    return true;
}

// Read exactly n bytes; end of stream first is an error named "EOF".
template <class Net>
bool recv_exact(Net& net, typename Net::Sock s, unsigned char* p, std::size_t n, std::string& err) {
    while (n > 0) {
        const long k = net.recv(s, p, n, err);
        if (k < 0)
            return false;
        if (k == 0) {
            err = "EOF";
            return false;
        }
        p += k;
        n -= static_cast<std::size_t>(k);
    }
    return true;
}

// Expect end of stream next; data instead is an error named "DATA".
template <class Net>
bool expect_eof(Net& net, typename Net::Sock s, std::string& err) {
    unsigned char b[64];
    const long k = net.recv(s, b, sizeof b, err);
    if (k < 0)
        return false;
    if (k > 0) {
        err = "DATA";
        return false;
    }
    return true;
}

inline std::string role_of(const Options& o) {
    return o.listen ? "server" : "client";
}

// The RESULT fields that say a run used message sockets (empty for a stream run).
inline std::string message_fields(const Options& o, std::uint64_t messages) {
    return o.message ? " socket=message messages=" + std::to_string(messages) : "";
}

inline void ready(unsigned port) {
    std::printf("READY port=%u\n", port);
    std::fflush(stdout);
}

// ---- bulk ------------------------------------------------------------------------------------

template <class Net>
int bulk_client(Net& net, const Options& o, std::uint32_t addr) {
    const Pattern pat;
    std::string err;
    auto s = net.connect(addr, o.port, false, err);
    if (s == Net::kInvalid)
        return fail("bulk: connect: " + err);
    const std::size_t chunk = o.message ? kBulkMessage : kBulkChunk;
    const CpuSample cpu0 = cpu_sample();
    const auto t0 = Clock::now();
    const auto deadline =
        t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
    std::uint64_t sent = 0;
    while (Clock::now() < deadline) {
        const long k = net.send(s, pat.at(sent), chunk, err);
        if (k < 0)
            return fail("bulk: send after " + std::to_string(sent) + " bytes: " + err);
        if (o.message && static_cast<std::size_t>(k) != chunk)
            return fail("bulk: a message send took " + std::to_string(k) + " of " +
                        std::to_string(chunk) + " bytes");
        sent += static_cast<std::uint64_t>(k);
    }
    unsigned char report[kBulkReportSize];
    if (!net.shutdown_send(s, err))
        return fail("bulk: shutdown: " + err);
    if (!recv_exact(net, s, report, sizeof report, err))
        return fail("bulk: no report from the receiver: " + err);
    const double dt = seconds_since(t0);
    const CpuSample cpu1 = cpu_sample();
    if (!expect_eof(net, s, err))
        return fail("bulk: after the report: " + err);
    (void)net.close(s, err);
    const std::uint64_t got = ustack::load_be64(report);
    const std::uint64_t verdict = ustack::load_be64(report + 8);
    if (got != sent || verdict != 1) {
        return fail("bulk: sent " + std::to_string(sent) + " bytes, the receiver got " +
                    std::to_string(got) + (verdict == 1 ? "" : ", pattern mismatch"));
    }
    result("mode=bulk role=client" + message_fields(o, sent / chunk) +
           " bytes=" + std::to_string(sent) + " seconds=" + fmt(dt, 3) +
           " mib_s=" + fmt(static_cast<double>(sent) / 1048576.0 / dt, 2) + " verified=1 " +
           cpu_fields(cpu0, cpu1));
    return 0;
}

template <class Net>
int bulk_server(Net& net, const Options& o) {
    const Pattern pat;
    std::string err;
    auto l = net.listen(o.port, 4, false, err);
    if (l == Net::kInvalid)
        return fail("bulk: listen: " + err);
    const CpuSample cpu0 = cpu_sample();
    ready(o.port);
    auto s = net.accept(l, err);
    net.wake_listener(l);
    net.close_listener(l);
    if (s == Net::kInvalid)
        return fail("bulk: accept: " + err);
    std::vector<unsigned char> buf(256 * 1024);
    std::uint64_t got = 0;
    bool ok = true;
    std::uint64_t bad_at = 0;
    Clock::time_point first{};
    for (;;) {
        const long k = net.recv(s, buf.data(), buf.size(), err);
        if (k < 0)
            return fail("bulk: recv after " + std::to_string(got) + " bytes: " + err);
        if (k == 0)
            break;
        if (got == 0)
            first = Clock::now();
        // A message socket returns one whole message per call: every one is kBulkMessage bytes.
        if (o.message && static_cast<std::size_t>(k) != kBulkMessage)
            return fail("bulk: message " + std::to_string(got / kBulkMessage) + " has " +
                        std::to_string(k) + " bytes, not " + std::to_string(kBulkMessage));
        if (ok && !pat.matches(got, buf.data(), static_cast<std::size_t>(k))) {
            ok = false;
            bad_at = got;
        }
        got += static_cast<std::uint64_t>(k);
    }
    const double dt = got > 0 ? seconds_since(first) : 0;
    unsigned char report[kBulkReportSize];
    ustack::store_be64(report, got);
    ustack::store_be64(report + 8, ok ? 1 : 0);
    if (!send_all(net, s, report, sizeof report, err) || !net.shutdown_send(s, err))
        return fail("bulk: sending the report: " + err);
    (void)net.close(s, err);
    const CpuSample cpu1 = cpu_sample();
    if (!ok)
        return fail("bulk: pattern mismatch in the chunk at offset " + std::to_string(bad_at));
    result("mode=bulk role=server" + message_fields(o, got / kBulkMessage) +
           " bytes=" + std::to_string(got) + " seconds=" + fmt(dt, 3) +
           " mib_s=" + fmt(dt > 0 ? static_cast<double>(got) / 1048576.0 / dt : 0, 2) +
           " verified=1 " + cpu_fields(cpu0, cpu1));
    return 0;
}

// ---- pingpong --------------------------------------------------------------------------------

template <class Net>
int pingpong_client(Net& net, const Options& o, std::uint32_t addr) {
    std::string err;
    auto s = net.connect(addr, o.port, true, err);
    if (s == Net::kInvalid)
        return fail("pingpong: connect: " + err);
    const std::uint64_t warmup = std::min<std::uint64_t>(1000, o.count / 10 + 1);
    std::vector<double> rtt_us;
    rtt_us.reserve(o.count);
    double sum = 0;
    for (std::uint64_t i = 0; i < warmup + o.count; ++i) {
        unsigned char b = static_cast<unsigned char>(i);
        unsigned char r = 0;
        const auto t = Clock::now();
        if (!send_all(net, s, &b, 1, err) || !recv_exact(net, s, &r, 1, err))
            return fail("pingpong: round trip " + std::to_string(i) + ": " + err);
        const double us = std::chrono::duration<double, std::micro>(Clock::now() - t).count();
        if (r != (b ^ kPongXor))
            return fail("pingpong: wrong answer in round trip " + std::to_string(i));
        if (i >= warmup) {
            rtt_us.push_back(us);
            sum += us;
        }
    }
    if (!net.shutdown_send(s, err) || !expect_eof(net, s, err))
        return fail("pingpong: closing: " + err);
    (void)net.close(s, err);
    const double mean = sum / static_cast<double>(rtt_us.size());
    const double p50 = quantile(rtt_us, 0.50);
    const double p99 = quantile(rtt_us, 0.99);
    result("mode=pingpong role=client" + message_fields(o, warmup + o.count) +
           " rtts=" + std::to_string(rtt_us.size()) + " p50_us=" + fmt(p50) +
           " p99_us=" + fmt(p99) + " mean_us=" + fmt(mean) + " min_us=" + fmt(rtt_us.front()) +
           " max_us=" + fmt(rtt_us.back()));
    return 0;
}

template <class Net>
int pingpong_server(Net& net, const Options& o) {
    std::string err;
    auto l = net.listen(o.port, 4, true, err);
    if (l == Net::kInvalid)
        return fail("pingpong: listen: " + err);
    ready(o.port);
    auto s = net.accept(l, err);
    net.wake_listener(l);
    net.close_listener(l);
    if (s == Net::kInvalid)
        return fail("pingpong: accept: " + err);
    std::uint64_t echoed = 0;
    unsigned char buf[64];
    for (;;) {
        const long k = net.recv(s, buf, sizeof buf, err);
        if (k < 0)
            return fail("pingpong: recv: " + err);
        if (k == 0)
            break;
        if (o.message && k != 1)
            return fail("pingpong: a message of " + std::to_string(k) + " bytes, not 1");
        for (long i = 0; i < k; ++i) buf[i] ^= kPongXor;
        if (!send_all(net, s, buf, static_cast<std::size_t>(k), err))
            return fail("pingpong: send: " + err);
        echoed += static_cast<std::uint64_t>(k);
    }
    if (!net.shutdown_send(s, err))
        return fail("pingpong: shutdown: " + err);
    (void)net.close(s, err);
    result("mode=pingpong role=server" + message_fields(o, echoed) +
           " echoed=" + std::to_string(echoed));
    return 0;
}

// ---- connrate --------------------------------------------------------------------------------

// Shared by the threads of one side: counts, errors by name, the first fatal error.
struct ConnrateState {
    std::mutex mu;
    ErrorCounts errors;
    std::string fatal;
    std::atomic<bool> failed{false};
    std::atomic<std::uint64_t> done{0};

    void count(const std::string& what, const std::string& err) {
        std::lock_guard lock(mu);
        errors[what + "/" + err]++;
    }
    void fail(const std::string& what) {
        std::lock_guard lock(mu);
        if (fatal.empty())
            fatal = what;
        failed = true;
    }
    std::uint64_t error_total() {
        std::lock_guard lock(mu);
        std::uint64_t n = 0;
        for (const auto& [k, v] : errors) n += v;
        return n;
    }
};

template <class Net>
void connrate_client_thread(Net& net, const Options& o, std::uint32_t addr, unsigned id,
                            const Pattern& pat, Clock::time_point deadline, ConnrateState& st) {
    unsigned char req[kRequestSize];
    unsigned char rsp[kRequestSize];
    std::string err;
    for (std::uint64_t seq = 0; Clock::now() < deadline && !st.failed; ++seq) {
        const std::uint64_t tag = (std::uint64_t{id} << 40) | seq;
        ustack::store_be64(req, tag);
        std::memcpy(req + 8, pat.at(tag % Pattern::kPeriod), kRequestSize - 8);
        auto s = net.connect(addr, o.port, true, err);
        if (s == Net::kInvalid) {
            st.count("connect", err);
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
            continue;
        }
        bool ok = false;
        if (!send_all(net, s, req, sizeof req, err)) {
            st.count("send", err);
        } else if (!recv_exact(net, s, rsp, sizeof rsp, err)) {
            st.count("recv", err);
        } else if (std::memcmp(req, rsp, sizeof req) != 0) {
            st.fail("connrate: the response differs from the request");
        } else if (o.disc_data) {
            unsigned char d[8];
            ustack::store_be64(d, tag);
            if (!net.send_disconnect(s, d, sizeof d, err)) {
                st.count("send-disconnect", err);
            } else if (!expect_eof(net, s, err)) {
                if (err == "DATA")
                    st.fail("connrate: data after the response");
                st.count("eof", err);
            } else {
                const long n = net.recv_disconnect(s, d, sizeof d, err);
                if (n < 0) {
                    st.count("recv-disconnect", err);
                } else if (n != 8 || ustack::load_be64(d) != tag + 1) {
                    st.fail("connrate: the server's disconnect data is wrong (" +
                            std::to_string(n) + " bytes)");
                } else {
                    ok = true;
                }
            }
        } else if (!net.shutdown_send(s, err)) {
            st.count("shutdown", err);
        } else if (!expect_eof(net, s, err)) {
            if (err == "DATA")
                st.fail("connrate: data after the response");
            st.count("eof", err);
        } else {
            ok = true;
        }
        if (!net.close(s, err)) {
            st.count("close", err);
            ok = false;
        }
        if (ok)
            st.done++;
    }
}

template <class Net>
int connrate_client(Net& net, const Options& o, std::uint32_t addr) {
    const Pattern pat;
    ConnrateState st;
    const CpuSample cpu0 = cpu_sample();
    const auto t0 = Clock::now();
    const auto deadline =
        t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
    std::vector<std::thread> threads;
    for (unsigned i = 0; i < o.threads; ++i) {
        threads.emplace_back(
            [&, i] { connrate_client_thread(net, o, addr, i, pat, deadline, st); });
    }
    for (auto& t : threads) t.join();
    const double dt = seconds_since(t0);
    const CpuSample cpu1 = cpu_sample();
    // One last connection tells the server to stop. The run may have left every ephemeral port
    // in TIME-WAIT (connect fails WSAEADDRNOTAVAIL): try again while they expire (a few
    // seconds at most: 2 MSL).
    std::string err;
    bool stopped = false;
    auto s = net.connect(addr, o.port, true, err);
    for (int attempt = 0; s == Net::kInvalid && attempt < 50; ++attempt) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        err.clear();
        s = net.connect(addr, o.port, true, err);
    }
    if (s != Net::kInvalid) {
        unsigned char req[kRequestSize] = {};
        ustack::store_be64(req, kStopTag);
        stopped = send_all(net, s, req, sizeof req, err) && net.shutdown_send(s, err) &&
                  expect_eof(net, s, err);
        (void)net.close(s, err);
    }
    if (!stopped)
        error("connrate: could not send STOP to the server: " + err);
    const std::uint64_t n = st.done;
    result("mode=connrate role=client threads=" + std::to_string(o.threads) +
           " conns=" + std::to_string(n) + " seconds=" + fmt(dt, 3) + " conn_s=" +
           fmt(static_cast<double>(n) / dt, 1) + " errors=" + std::to_string(st.error_total()) +
           " error_kinds=" + format_errors(st.errors) + " disc_data=" + (o.disc_data ? "1" : "0") +
           " " + cpu_fields(cpu0, cpu1));
    if (st.failed)
        return fail(st.fatal);
    if (n == 0)
        return fail("connrate: no connection completed");
    return stopped ? 0 : 1;
}

template <class Net>
void connrate_serve(Net& net, const Options& o, typename Net::Sock s, typename Net::Sock l,
                    std::atomic<bool>& stopping, ConnrateState& st) {
    unsigned char req[kRequestSize];
    std::string err;
    bool ok = false;
    if (!recv_exact(net, s, req, sizeof req, err)) {
        st.count("recv", err);
    } else if (ustack::load_be64(req) == kStopTag) {
        stopping = true;
        net.wake_listener(l);
        (void)net.shutdown_send(s, err);
    } else if (!send_all(net, s, req, sizeof req, err)) {
        st.count("send", err);
    } else if (!expect_eof(net, s, err)) {
        if (err == "DATA")
            st.fail("connrate: data after the request");
        st.count("eof", err);
    } else if (o.disc_data) {
        unsigned char d[8];
        const long n = net.recv_disconnect(s, d, sizeof d, err);
        if (n < 0) {
            st.count("recv-disconnect", err);
        } else if (n != 8) {
            st.fail("connrate: the client's disconnect data has " + std::to_string(n) + " bytes");
        } else {
            ustack::store_be64(d, ustack::load_be64(d) + 1);
            if (!net.send_disconnect(s, d, sizeof d, err))
                st.count("send-disconnect", err);
            else
                ok = true;
        }
    } else if (!net.shutdown_send(s, err)) {
        st.count("shutdown", err);
    } else {
        ok = true;
    }
    if (!net.close(s, err)) {
        st.count("close", err);
        ok = false;
    }
    if (ok)
        st.done++;
}

template <class Net>
int connrate_server(Net& net, const Options& o) {
    std::string err;
    auto l = net.listen(o.port, 1024, true, err);
    if (l == Net::kInvalid)
        return fail("connrate: listen: " + err);
    const CpuSample cpu0 = cpu_sample();
    ready(o.port);
    ConnrateState st;
    std::atomic<bool> stopping{false};
    std::vector<std::thread> threads;
    for (unsigned i = 0; i < o.threads; ++i) {
        threads.emplace_back([&] {
            std::string e;
            while (!stopping) {
                auto s = net.accept(l, e);
                if (s == Net::kInvalid) {
                    if (stopping)
                        break;
                    st.count("accept", e);
                    std::this_thread::sleep_for(std::chrono::milliseconds(1));
                    continue;
                }
                connrate_serve(net, o, s, l, stopping, st);
            }
        });
    }
    for (auto& t : threads) t.join();
    net.close_listener(l);
    const CpuSample cpu1 = cpu_sample();
    result("mode=connrate role=server served=" + std::to_string(st.done.load()) +
           " errors=" + std::to_string(st.error_total()) +
           " error_kinds=" + format_errors(st.errors) + " " + cpu_fields(cpu0, cpu1));
    if (st.failed)
        return fail(st.fatal);
    return 0;
}

// ---- hold ------------------------------------------------------------------------------------

inline std::string memory_fields(std::uint64_t n, std::uint64_t rss0, std::uint64_t rss1) {
    const double per = n > 0 ? (static_cast<double>(rss1) - static_cast<double>(rss0)) * 1024.0 /
                                   static_cast<double>(n)
                             : 0;
    return "conns=" + std::to_string(n) + " rss_before_kib=" + std::to_string(rss0) +
           " rss_after_kib=" + std::to_string(rss1) + " bytes_per_conn=" + fmt(per, 0);
}

template <class Net>
int hold_client(Net& net, const Options& o, std::uint32_t addr) {
    const std::uint64_t n = o.count;
    std::vector<typename Net::Sock> socks(n, Net::kInvalid);
    ConnrateState st;
    net.mem_begin();
    // Start the connecting threads (and let each touch its malloc arena) before the baseline.
    std::latch warm(static_cast<std::ptrdiff_t>(o.threads) + 1);
    std::latch go(1);
    std::vector<std::thread> threads;
    for (unsigned i = 0; i < o.threads; ++i) {
        threads.emplace_back([&, i] {
            std::string e;
            { std::vector<unsigned char> touch(4096, 1); }
            warm.count_down();
            go.wait();
            for (std::uint64_t k = i; k < n && !st.failed; k += o.threads) {
                socks[k] = net.connect(addr, o.port, false, e);
                if (socks[k] == Net::kInvalid)
                    st.fail("hold: connect #" + std::to_string(k) + ": " + e);
            }
        });
    }
    warm.arrive_and_wait();
    const std::uint64_t rss0 = rss_kib();
    const auto t0 = Clock::now();
    go.count_down();
    for (auto& t : threads) t.join();
    const double dt = seconds_since(t0);
    if (st.failed)
        return fail(st.fatal);
    std::this_thread::sleep_for(std::chrono::milliseconds(o.settle_ms));
    const std::uint64_t rss1 = rss_kib();
    const std::string extra = net.mem_end();
    result("mode=hold role=client " + memory_fields(n, rss0, rss1) +
           " connect_seconds=" + fmt(dt, 2) + (extra.empty() ? "" : " " + extra));
    // The server closes first once it has measured; read each end of stream, then close.
    std::string err;
    std::uint64_t bad = 0;
    for (auto s : socks) {
        if (!expect_eof(net, s, err))
            bad++;
        (void)net.close(s, err);
    }
    if (bad != 0)
        return fail("hold: " + std::to_string(bad) +
                    " connections did not end cleanly (last: " + err + ")");
    return 0;
}

template <class Net>
int hold_server(Net& net, const Options& o) {
    const std::uint64_t n = o.count;
    std::string err;
    auto l = net.listen(o.port, 4096, false, err);
    if (l == Net::kInvalid)
        return fail("hold: listen: " + err);
    net.mem_begin();
    const std::uint64_t rss0 = rss_kib();
    std::vector<typename Net::Sock> socks;
    socks.reserve(n);
    ready(o.port);
    while (socks.size() < n) {
        auto s = net.accept(l, err);
        if (s == Net::kInvalid)
            return fail("hold: accept after " + std::to_string(socks.size()) + ": " + err);
        socks.push_back(s);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(o.settle_ms));
    const std::uint64_t rss1 = rss_kib();
    const std::string extra = net.mem_end();
    result("mode=hold role=server " + memory_fields(n, rss0, rss1) +
           (extra.empty() ? "" : " " + extra));
    std::this_thread::sleep_for(std::chrono::milliseconds(o.hold_ms));
    std::uint64_t bad = 0;
    for (auto s : socks)
        if (!net.shutdown_send(s, err))
            bad++;
    for (auto s : socks) {
        if (!expect_eof(net, s, err))
            bad++;
        (void)net.close(s, err);
    }
    net.wake_listener(l);
    net.close_listener(l);
    if (bad != 0)
        return fail("hold: " + std::to_string(bad) +
                    " connections did not end cleanly (last: " + err + ")");
    return 0;
}

// ---- dispatch --------------------------------------------------------------------------------

template <class Net>
int run_mode(Net& net, const Options& o, std::uint32_t addr) {
    if (o.mode == "bulk")
        return o.listen ? bulk_server(net, o) : bulk_client(net, o, addr);
    if (o.mode == "pingpong")
        return o.listen ? pingpong_server(net, o) : pingpong_client(net, o, addr);
    if (o.mode == "connrate")
        return o.listen ? connrate_server(net, o) : connrate_client(net, o, addr);
    return o.listen ? hold_server(net, o) : hold_client(net, o, addr);
}

}  // namespace bench
