// The one translation unit that compiles Asio's and Beast's implementation (with
// BOOST_ASIO_SEPARATE_COMPILATION / BOOST_BEAST_SEPARATE_COMPILATION set for the whole of
// api/), so the other Beast files compile declarations only.
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange

#include <boost/asio/impl/src.hpp>
#include <boost/beast/src.hpp>
