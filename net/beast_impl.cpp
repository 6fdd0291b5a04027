// The one translation unit that compiles Asio's and Beast's implementation. Every target that
// uses Asio or Beast links batchd_beast, which makes BOOST_ASIO_SEPARATE_COMPILATION and
// BOOST_BEAST_SEPARATE_COMPILATION PUBLIC, so their other files compile declarations only.
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange

#include <boost/asio/impl/src.hpp>
#include <boost/beast/src.hpp>
