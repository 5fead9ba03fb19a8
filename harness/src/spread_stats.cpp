#include "spread_stats.h"

#include <boost/math/distributions/binomial.hpp>
#include <boost/math/distributions/chi_squared.hpp>
#include <boost/math/distributions/normal.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <tuple>

namespace vipcheck {

double chi_square_survival(double x, double dof) {
    if (dof <= 0 || x <= 0) return 1.0;
    return boost::math::cdf(boost::math::complement(boost::math::chi_squared(dof), x));
}

double normal_quantile(double p) {
    if (!(p > 0 && p < 1)) throw std::domain_error("quantile needs 0 < p < 1");
    return boost::math::quantile(boost::math::normal(), p);
}

std::pair<double, double> wilson_interval(uint64_t k, uint64_t n, double z) {
    if (n == 0) return {0.0, 1.0};
    const double nn = double(n);
    const double p = double(k) / nn;
    const double z2 = z * z;
    const double centre = (p + z2 / (2 * nn)) / (1 + z2 / nn);
    const double half = z / (1 + z2 / nn) * std::sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn));
    return {std::max(0.0, centre - half), std::min(1.0, centre + half)};
}

double binomial_two_sided_p(uint64_t k, uint64_t n) {
    if (k > n) throw std::invalid_argument("more successes than trials");
    const uint64_t extreme = std::max(k, n - k);
    if (n == 0 || extreme == 0) return 1.0;
    // P(X >= extreme) is the complement of the CDF at extreme - 1; the two tails are mirror images.
    const double tail = boost::math::cdf(boost::math::complement(boost::math::binomial(double(n), 0.5),
                                                                 double(extreme - 1)));
    return std::min(1.0, 2 * tail);
}

double binomial_at_most_p(uint64_t k, uint64_t n, double p) {
    if (!(p >= 0 && p <= 1)) throw std::invalid_argument("p must be in [0, 1]");
    if (k >= n) return 1.0;
    return boost::math::cdf(boost::math::binomial(double(n), p), double(k));
}

uint64_t run_length_limit(uint64_t n, double alpha) {
    if (!(alpha > 0 && alpha < 1)) throw std::invalid_argument("alpha must be in (0, 1)");
    uint64_t length = 1;
    while (length <= n && double(n - length + 1) * std::pow(2.0, 1.0 - double(length)) > alpha) ++length;
    return length;
}

SpreadTest test_spread(const std::vector<uint64_t>& counts, std::vector<double> weights, double alpha) {
    if (counts.empty()) throw std::invalid_argument("no bins to test");
    if (!(alpha > 0 && alpha < 1)) throw std::invalid_argument("alpha must be in (0, 1)");
    if (weights.empty()) weights.assign(counts.size(), 1.0);
    if (weights.size() != counts.size()) throw std::invalid_argument("one weight per bin");
    const double weight_sum = std::accumulate(weights.begin(), weights.end(), 0.0);
    if (!(weight_sum > 0) || std::any_of(weights.begin(), weights.end(), [](double w) { return w < 0; })) {
        throw std::invalid_argument("weights must be non-negative with a positive sum");
    }
    const uint64_t total = std::accumulate(counts.begin(), counts.end(), uint64_t{0});

    SpreadTest test;
    test.alpha = alpha;
    // Simultaneous bounds: each bin's interval at alpha / bins keeps the family at alpha.
    const double z = normal_quantile(1.0 - alpha / (2.0 * double(counts.size())));
    bool impossible = false;  // a count where the design expects none
    unsigned used_bins = 0;
    for (size_t i = 0; i < counts.size(); ++i) {
        ShareEstimate est;
        est.count = counts[i];
        est.expected_share = weights[i] / weight_sum;
        est.share = total ? double(counts[i]) / double(total) : 0.0;
        std::tie(est.lower, est.upper) = wilson_interval(counts[i], total, z);
        const double expected = est.expected_share * double(total);
        if (expected > 0) {
            test.chi_square += (double(counts[i]) - expected) * (double(counts[i]) - expected) / expected;
            ++used_bins;
        } else if (counts[i] > 0) {
            impossible = true;
        }
        test.shares.push_back(est);
    }
    test.dof = used_bins > 0 ? used_bins - 1 : 0;
    test.p_value = impossible ? 0.0 : (total == 0 ? 1.0 : chi_square_survival(test.chi_square, test.dof));
    test.consistent = test.p_value >= alpha && total > 0;
    return test;
}

}  // namespace vipcheck
