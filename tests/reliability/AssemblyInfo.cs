// Each class makes hundreds of host objects and checks the host for leaks of its own root: one at a time, so the
// figures mean something on a 2-core machine shared with other suites.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
