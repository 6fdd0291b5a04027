// The one translation unit that compiles Asio's SSL stream implementation (separate
// compilation, as beast_impl.cpp does for the rest of Asio and Beast). Apart from it so that
// only the targets that speak TLS (the http chunk store client) link OpenSSL.
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange

#include <boost/asio/ssl/impl/src.hpp>
