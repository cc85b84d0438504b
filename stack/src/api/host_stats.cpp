// WSPFormatHostStats: a host's counters as "name value" lines.
#include <algorithm>
#include <cstring>
#include <string>

#include "blocking.hpp"
#include "host.hpp"
#include "socket_table.hpp"

using namespace ustack;

extern "C" int WSPFormatHostStats(WSPHOST host, char* buf, size_t len) {
    ApiLock lock;
    const Host* h = find_host(host);
    if (h == nullptr || buf == nullptr || len == 0) {
        return -1;
    }
    const StackStats& st = h->stack().stats();
    const ConnStats c = h->stack().connection_totals();
    const CodecStats& cs = h->codec().stats();
    std::string out;
    auto line = [&](std::string_view name, std::uint64_t v) {
        out += name;
        out += ' ';
        out += std::to_string(v);
        out += '\n';
    };
    line("packets_decoded", cs.decoded);
    line("packets_encoded", cs.encoded);
    line("packets_out", h->encoder_stats().packets);              // super-packets count once
    line("super_packets_out", h->encoder_stats().super_packets);  // TSO: several segments each
    line("segments_in", st.segs_in);
    line("segments_out", st.segs_out);
    line("payload_bytes_in", c.bytes_in);
    line("payload_bytes_out", c.bytes_out);
    line("retransmissions", c.retransmits);
    line("retransmission_timeouts", c.timeouts);
    line("fast_retransmits", c.fast_retransmits);
    line("tail_loss_probes", c.tail_loss_probes);
    line("acks_in_batch", c.batch_acks);  // RFC 5681 §4.2 ACKs owed inside a batch
    line("acks_in_batch_merged", c.batch_acks_merged);
    line("rst_sent", c.rst_sent + st.rst_sent_unknown);
    line("rst_received", c.rst_received);
    line("rst_ignored", c.rst_ignored + st.rst_ignored_unknown);
    line("challenge_acks", c.challenge_acks);
    line("challenge_acks_suppressed", c.challenge_acks_suppressed);
    line("zero_window_probes", c.zero_window_probes);
    line("keepalive_probes", c.keepalive_probes);
    line("connections_opened", st.connections_opened);
    line("connections_current", st.connections_current);
    line("time_wait", st.time_wait);
    for (std::size_t i = 0; i < kDropReasonCount; ++i) {
        line("drop_" + std::string(to_string(static_cast<DropReason>(i))), cs.drops[i]);
    }
    line("drop_not_for_us", st.dropped_not_for_us);
    line("drop_invalid_address", st.dropped_invalid);
    line("drop_unacceptable_segment", c.dropped_unacceptable);
    line("drop_bad_ack", c.dropped_bad_ack);
    line("drop_reassembly_limit", c.dropped_ooo_limit);
    line("drop_paws", c.paws_dropped);
    line("drop_missing_timestamp", c.missing_ts_dropped);
    line("drop_syn_backlog", st.syn_backlog_drops + st.syn_limit_drops);
    line("syn_cookies_sent", st.syn_cookies_sent);
    line("syn_cookies_validated", st.syn_cookies_validated);
    line("syn_cookies_failed", st.syn_cookies_failed);
    line("syn_cookies_failed_dropped", st.syn_cookies_failed_dropped);
    line("orphan_limit_aborts", st.orphan_limit_aborts);
    line("device_failures", h->link_losses());
    line("device_reattached", h->link_returns());
    line("network_down_closes", st.network_down_closes);
    line("time_wait_recycled", st.time_wait_recycled);
    line("connect_limit_failures", st.connect_limit_failures);
    line("options_unknown", cs.unknown_options);
    line("options_unknown_exid", cs.unknown_exid);
    line("disconnect_option_ignored", c.disc_option_ignored + cs.bad_disconnect_option);
    line("disconnect_data_sent", h->disconnect_sent());
    line("disconnect_data_received", h->disconnect_received());
    // DESIGN.md §3c: connect data on the SYNs, and conditional listeners' held requests.
    line("connect_data_sent", c.connect_data_sent);
    line("connect_data_received", c.connect_data_received);
    line("connect_data_refused", c.connect_data_refused);
    line("connect_data_syns", st.connect_data_syns);
    line("drop_syn_connect_data", st.syn_dropped_connect_data);
    line("requests_held", st.requests_held);
    line("held_syns_absorbed", st.held_syns_absorbed);
    line("held_backlog_drops", st.held_backlog_drops);
    line("held_requests_accepted", st.held_requests_accepted);
    line("held_requests_rejected", st.held_requests_rejected);
    line("held_requests_expired", st.held_requests_expired);
    line("accept_rejected", h->accept_rejected());
    line("accept_deferred", h->accept_deferred());
    line("message_mode_refused", st.message_mode_refused + c.message_mode_refused);
    line("message_option_ignored", c.message_option_ignored + cs.bad_message_option);
    line("message_framing_too_long", h->framing_too_long());
    line("message_framing_fin_inside", h->framing_fin_inside());
    line("state_log_dropped", h->state_lines_dropped());  // beyond kMaxPendingStateLines
    const std::size_t n = std::min(out.size(), len - 1);
    std::memcpy(buf, out.data(), n);
    buf[n] = '\0';
    return static_cast<int>(n);
}
