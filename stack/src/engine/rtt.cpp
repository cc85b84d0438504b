// RttEstimator: RFC 6298 "Computing TCP's Retransmission Timer" (see rtt.hpp).
//
// Heads up for the next implementer:
//   - RFC 6298 §2 is the whole algorithm; §3 is Karn's rule (the caller's job: never sample a
//     retransmitted segment); §5 is how the timer is managed (the Sender's job), of which only
//     the §5.5 backoff lives here.
//   - The RFC's gains alpha = 1/8 and beta = 1/4 and K = 4 (§2.3) are done in integer
//     microseconds (truncating). The update order matters: §2.3 requires RTTVAR to be updated
//     first, with the SRTT from *before* this sample.
//   - The RFC's lower bound of 1 s (§2.4) and its optional upper bound of at least 60 s (§2.5)
//     are configuration here (TcpConfig), as is the clock granularity G (§2.3).
#include "ustack/rtt.hpp"

#include <algorithm>

namespace ustack {

namespace {

// RFC 6298 §2.3: K = 4, alpha = 1/8, beta = 1/4.
constexpr Duration::rep kK = 4;
constexpr Duration::rep kAlphaDen = 8;  // alpha = 1/kAlphaDen
constexpr Duration::rep kBetaDen = 4;   // beta = 1/kBetaDen

}  // namespace

RttEstimator::RttEstimator(Duration initial_rto, Duration min_rto, Duration max_rto,
                           Duration granularity)
    : initial_rto_(initial_rto),
      min_rto_(min_rto),
      max_rto_(max_rto),
      granularity_(granularity),
      base_rto_(initial_rto) {}

void RttEstimator::on_sample(Duration rtt) {
    rtt = std::max(rtt, Duration{0});  // a monotonic clock never yields less; be defensive
    min_rtt_ = min_rtt_ ? std::min(*min_rtt_, rtt) : rtt;
    if (!srtt_) {
        // §2.2: first measurement R: SRTT <- R, RTTVAR <- R/2.
        srtt_ = rtt;
        rttvar_ = rtt / 2;
    } else {
        // §2.3: RTTVAR <- (1 - beta) * RTTVAR + beta * |SRTT - R'|   (old SRTT)
        //       SRTT   <- (1 - alpha) * SRTT + alpha * R'
        const Duration err = *srtt_ > rtt ? *srtt_ - rtt : rtt - *srtt_;
        rttvar_ = ((kBetaDen - 1) * rttvar_ + err) / kBetaDen;
        srtt_ = ((kAlphaDen - 1) * *srtt_ + rtt) / kAlphaDen;
    }
    // §2.2/§2.3: RTO <- SRTT + max(G, K * RTTVAR); §2.4 lower bound; §2.5 upper bound.
    base_rto_ = std::clamp(*srtt_ + std::max(granularity_, kK * rttvar_), min_rto_,
                           std::max(min_rto_, max_rto_));
    // §5.7 keeps a backed-off RTO until a new sample: this is that sample.
    backoff_shift_ = 0;
}

void RttEstimator::backoff() {
    // §5.5: RTO <- RTO * 2 ("back off the timer"), bounded as in §2.5 (see rto()). The count keeps
    // going past the cap so callers can use backoff_count() as "consecutive expiries".
    if (backoff_shift_ < ~0U) {
        ++backoff_shift_;
    }
}

Duration RttEstimator::rto() const {
    // Double base_rto_ backoff_shift_ times without overflowing: stop once the cap is reached.
    // §2.1: before the first sample the RTO is the initial value.
    Duration rto = std::min(srtt_ ? base_rto_ : initial_rto_, max_rto_);
    for (unsigned i = 0; i < backoff_shift_ && rto < max_rto_; ++i) {
        rto = rto > max_rto_ / 2 ? max_rto_ : rto * 2;
    }
    return rto;
}

}  // namespace ustack
