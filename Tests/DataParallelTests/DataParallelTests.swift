import Testing

/// Every suite of this target runs one test at a time: fits pin the threads of libdispatch's
/// process-wide pool, and the binding tests check that no pin outlives a fit, which they can only
/// see with no other fit running.
@Suite(.serialized)
enum DataParallelTests {}
