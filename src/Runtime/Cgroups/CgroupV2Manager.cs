using MiniDocker.Linux;
using static MiniDocker.Linux.Libc;

namespace MiniDocker.Runtime.Cgroups;

/// <summary>
/// The unified hierarchy (cgroup v2): the container's cgroup is <c>MOUNT/minidocker/SCOPE/ID</c>, and its device rules
/// are a BPF program attached to it (<see cref="BpfDeviceFilter"/>), as runc and crun attach one; v2 has no
/// devices.allow. The program is attached before any process joins, so nothing in the container ever runs without it.
/// </summary>
internal sealed class CgroupV2Manager(string mountPoint, string scope) : ICgroupManager
{
    private const string Prefix = "minidocker";

    public string MountPoint => mountPoint;
    private string ScopeDirectory => Path.Combine(mountPoint, Prefix, scope);
    private string DirectoryOf(string containerId) => Path.Combine(ScopeDirectory, containerId);

    public void Create(string containerId, CgroupSpec spec)
    {
        string dir = DirectoryOf(containerId);
        try
        {
            CgroupTree.MakeDirectory([Path.Combine(mountPoint, Prefix), ScopeDirectory]);
            // Controllers are enabled down to the scope before the leaf exists, so the leaf has their files.
            CgroupV2Resources.EnableControllers(mountPoint, ScopeDirectory, spec.Limits);
            CgroupTree.MakeDirectory([Path.Combine(mountPoint, Prefix), ScopeDirectory, dir]);
            if (KernelFailPoint.Injected("cgroup-devices")) throw new SyscallException("bpf(BPF_PROG_ATTACH)", dir, (int)Errno.EPERM);
            BpfDeviceFilter.Attach(dir, spec.Devices);
            CgroupV2Resources.Apply(dir, spec.Limits, update: false);
        }
        catch (Exception e) when (e is SyscallException or IOException)
        {
            throw new CgroupException($"cannot set up the cgroup of container {CgroupTree.Short(containerId)}: {e.Message}", e);
        }
    }

    public void Update(string containerId, CgroupResources resources)
    {
        string dir = DirectoryOf(containerId);
        if (!Directory.Exists(dir)) throw new CgroupException($"container {CgroupTree.Short(containerId)} has no cgroup (it is not running)");
        try { CgroupV2Resources.Apply(dir, resources, update: true); }
        catch (Exception e) when (e is SyscallException or IOException)
        {
            throw new CgroupException($"cannot update the limits of container {CgroupTree.Short(containerId)}: {e.Message}", e);
        }
    }

    public CgroupStats? Stats(string containerId) =>
        Directory.Exists(DirectoryOf(containerId)) ? CgroupV2Resources.Stats(DirectoryOf(containerId)) : null;

    public bool OomKilled(string containerId) =>
        Directory.Exists(DirectoryOf(containerId)) && CgroupV2Resources.OomKilled(DirectoryOf(containerId));

    public void AddProcess(string containerId, int pid) => CgroupTree.Join(DirectoryOf(containerId), pid, CgroupTree.Short(containerId));

    public void AddProcessBeside(int memberPid, int pid)
    {
        // "0::/minidocker/SCOPE/ID": the member's cgroup in the unified hierarchy, as this (the host's) namespace sees it.
        string relative = CgroupTree.MemberPath(memberPid, "")
            ?? throw new CgroupException($"cannot find the unified cgroup of process {memberPid}");
        CgroupTree.Join(mountPoint + relative, pid, $"process {memberPid}");
    }

    public void Remove(string containerId) =>
        CgroupTree.Remove(DirectoryOf(containerId), [ScopeDirectory, Path.Combine(mountPoint, Prefix)], CgroupTree.Short(containerId));

    /// <summary>The unified hierarchy's mount point: /sys/fs/cgroup on a v2 host, /sys/fs/cgroup/unified (or wherever
    /// mountinfo says) on a hybrid one; null when there is none.</summary>
    public static string? FindMount()
    {
        foreach (var line in File.ReadLines("/proc/self/mountinfo"))
        {
            var fields = line.Split(' ');
            int dash = Array.IndexOf(fields, "-");
            if (dash >= 5 && dash + 1 < fields.Length && fields[dash + 1] == "cgroup2" && fields[3] == "/") return fields[4];
        }
        return null;
    }
}

/// <summary>What both hierarchies do alike with a cgroup directory: make it with its parents, move a process into it,
/// find a process's, remove it once empty.</summary>
internal static class CgroupTree
{
    public static string Short(string id) => id.Length > 12 ? id[..12] : id;

    /// <summary>mkdir -p of <paramref name="chain"/> (each the parent of the next), started over when a parent
    /// vanishes under it (another container's Remove took its last child out). True when it made the leaf itself.</summary>
    public static bool MakeDirectory(string[] chain)
    {
        if (KernelFailPoint.Injected("cgroup")) throw new SyscallException("mkdir", chain[^1], (int)Errno.EPERM);
        for (int attempt = 0; attempt < 10; attempt++)
        {
            int made = 0;
            bool leafMade = false;
            for (; made < chain.Length; made++)
            {
                if (mkdirat(AT_FDCWD, chain[made], 0x1ED /* 0755 */) == 0) { leafMade = made == chain.Length - 1; continue; }
                if (LastErrno == EEXIST) continue;
                if (LastErrno == ENOENT && made > 0) break;
                throw new SyscallException("mkdir", chain[made], LastErrno);
            }
            if (made == chain.Length) return leafMade;
        }
        throw new SyscallException("mkdir", chain[^1], ENOENT);
    }

    public static void Join(string dir, int pid, string whose)
    {
        try
        {
            using var fd = Fd.Open(Path.Combine(dir, "cgroup.procs"), O_WRONLY | O_CLOEXEC);
            if (KernelFailPoint.Injected("cgroup-join")) throw new SyscallException("write", dir, (int)Errno.EPERM);
            fd.WriteAll(System.Text.Encoding.ASCII.GetBytes(pid.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }
        catch (SyscallException e) { throw new CgroupException($"cannot move process {pid} into the cgroup of {whose}: {e.Message}", e); }
    }

    /// <summary>The cgroup path of <paramref name="pid"/> in the hierarchy whose /proc/PID/cgroup controller field is
    /// <paramref name="controllers"/> ("" for the unified one); null when it is not listed.</summary>
    public static string? MemberPath(int pid, string controllers)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/cgroup"))
            {
                var parts = line.Split(':', 3);
                if (parts.Length != 3) continue;
                if (controllers.Length == 0 ? parts[0] == "0" && parts[1].Length == 0 : parts[1].Split(',').Contains(controllers))
                    return parts[2];
            }
        }
        catch (IOException e) { throw new CgroupException($"cannot find the cgroup of process {pid}: {e.Message}", e); }
        return null;
    }

    /// <summary>
    /// rmdir of the container's cgroup, then of <paramref name="parents"/> while they are empty. The init is reaped, but
    /// the rest of its pid namespace (exec'd processes) is killed by the kernel just after: rmdir says EBUSY until the
    /// last of them has left. After a grace period, what is still there is killed.
    /// </summary>
    public static void Remove(string dir, string[] parents, string whose)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        for (int attempt = 0; ; attempt++)
        {
            if (unlinkat(AT_FDCWD, dir, AT_REMOVEDIR) == 0 || LastErrno == ENOENT) break;
            int errno = LastErrno;
            if (errno != (int)Errno.EBUSY || DateTime.UtcNow > deadline)
                throw new CgroupException($"cannot remove the cgroup of container {whose}: {new SyscallException("rmdir", dir, errno).Message}");
            if (attempt >= 10) KillMembers(dir);
            Thread.Sleep(10);
        }
        // The shared parents go with their last child; a concurrent Create recreates them (see MakeDirectory).
        foreach (var parent in parents)
            if (unlinkat(AT_FDCWD, parent, AT_REMOVEDIR) == -1) break;
    }

    public static void KillMembers(string dir)
    {
        try
        {
            foreach (var line in File.ReadLines(Path.Combine(dir, "cgroup.procs")))
                if (int.TryParse(line, out int pid) && pid > 0) kill(pid, SIGKILL);
        }
        catch (IOException) { /* gone meanwhile */ }
    }
}
