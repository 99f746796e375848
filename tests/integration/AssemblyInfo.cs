// The integration tests share the host's kernel objects (firewall chains, port numbers, the wan test link):
// run them one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
