namespace MiniDocker.Runtime.Cgroups;

/// <summary>
/// The unified hierarchy. Device rules there are a BPF program (BPF_PROG_TYPE_CGROUP_DEVICE) attached to the cgroup,
/// as runc and crun build one; that is not written yet, and a container without its device rules could open any host
/// device, so on such a host containers do not start rather than start unconfined.
/// </summary>
internal sealed class CgroupV2Manager(string mountPoint, string scope) : ICgroupManager
{
    private CgroupException NotSupported() => new(
        $"device rules on cgroup v2 are not supported yet ({mountPoint} is a unified cgroup hierarchy, scope {scope}): " +
        "containers cannot start on this host without them");

    public void Create(string containerId, CgroupSpec spec) => throw NotSupported();
    public void AddProcess(string containerId, int pid) => throw NotSupported();
    public void AddProcessBeside(int memberPid, int pid) => throw NotSupported();
    public void Remove(string containerId) { } // nothing can have been made
}
