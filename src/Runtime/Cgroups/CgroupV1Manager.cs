using System.Text;
using MiniDocker.Linux;
using static MiniDocker.Linux.Libc;

namespace MiniDocker.Runtime.Cgroups;

/// <summary>
/// cgroup v1 (legacy or hybrid layout): the devices controller's own hierarchy, rules written to devices.deny and
/// devices.allow. A new cgroup inherits its parent's rules, so the container's starts from "deny all" and gets the
/// allow list after it.
/// </summary>
internal sealed class CgroupV1Manager(string devicesMount, string scope) : ICgroupManager
{
    private const string Prefix = "minidocker";

    private string ScopeDirectory => Path.Combine(devicesMount, Prefix, scope);
    private string DirectoryOf(string containerId) => Path.Combine(ScopeDirectory, containerId);

    /// <summary>Where the devices controller is mounted (normally /sys/fs/cgroup/devices), from mountinfo.</summary>
    public static string FindDevicesMount()
    {
        foreach (var line in File.ReadLines("/proc/self/mountinfo"))
        {
            // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS
            var fields = line.Split(' ');
            int dash = Array.IndexOf(fields, "-");
            if (dash < 5 || dash + 3 >= fields.Length || fields[dash + 1] != "cgroup") continue;
            if (fields[dash + 3].Split(',').Contains("devices") && fields[3] == "/") return fields[4];
        }
        throw new CgroupException("no devices cgroup is mounted (cgroup v1 'devices' controller, or cgroup v2 at " +
            $"{CgroupManagers.CgroupRoot}): containers cannot start without device rules");
    }

    public void Create(string containerId, CgroupSpec spec)
    {
        string dir = DirectoryOf(containerId);
        try
        {
            MakeDirectory(dir);
            // "a" first: from here the container may use nothing, then exactly what the rules allow.
            Write(Path.Combine(dir, "devices.deny"), "a", "cgroup-devices");
            foreach (var rule in spec.Devices)
                Write(Path.Combine(dir, rule.Allow ? "devices.allow" : "devices.deny"), rule.ToV1(), "cgroup-devices");
            // The kernel ignores nothing silently, but check the outcome: the one thing that must never be is "all".
            string list = File.ReadAllText(Path.Combine(dir, "devices.list"));
            if (!spec.Devices.Contains(DeviceRule.AllowAll) && list.Split('\n').Any(l => l.Trim() == "a *:* rwm"))
                throw new CgroupException($"the device rules of container {Short(containerId)} did not take effect ({dir}/devices.list still allows every device)");
        }
        catch (SyscallException e)
        {
            throw new CgroupException($"cannot set up the device cgroup of container {Short(containerId)}: {e.Message}", e);
        }
        catch (IOException e)
        {
            throw new CgroupException($"cannot set up the device cgroup of container {Short(containerId)}: {e.Message}", e);
        }
    }

    public void AddProcess(string containerId, int pid) => Join(DirectoryOf(containerId), pid, Short(containerId));

    public void AddProcessBeside(int memberPid, int pid)
    {
        string? relative = null;
        try
        {
            // "5:devices:/minidocker/SCOPE/ID": the member's cgroup in this (the host's) cgroup namespace.
            foreach (var line in File.ReadLines($"/proc/{memberPid}/cgroup"))
            {
                var parts = line.Split(':', 3);
                if (parts.Length == 3 && parts[1].Split(',').Contains("devices")) relative = parts[2];
            }
        }
        catch (IOException e) { throw new CgroupException($"cannot find the cgroup of process {memberPid}: {e.Message}", e); }
        if (relative is null) throw new CgroupException($"cannot find the devices cgroup of process {memberPid}");
        Join(devicesMount + relative, pid, $"process {memberPid}");
    }

    private static void Join(string dir, int pid, string whose)
    {
        try { Write(Path.Combine(dir, "cgroup.procs"), pid.ToString(System.Globalization.CultureInfo.InvariantCulture), "cgroup-join"); }
        catch (SyscallException e) { throw new CgroupException($"cannot move process {pid} into the cgroup of {whose}: {e.Message}", e); }
    }

    public void Remove(string containerId)
    {
        string dir = DirectoryOf(containerId);
        // The init is reaped, but the rest of its pid namespace (exec'd processes) is killed by the kernel just after:
        // rmdir says EBUSY until the last of them has left. After a grace period, what is still there is killed.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        for (int attempt = 0; ; attempt++)
        {
            if (unlinkat(AT_FDCWD, dir, AT_REMOVEDIR) == 0 || LastErrno == ENOENT) break;
            int errno = LastErrno;
            if (errno != (int)Errno.EBUSY || DateTime.UtcNow > deadline)
                throw new CgroupException($"cannot remove the cgroup of container {Short(containerId)}: {new SyscallException("rmdir", dir, errno).Message}");
            if (attempt >= 10) KillMembers(dir);
            Thread.Sleep(10);
        }
        // The shared parents go with their last child; a concurrent Create recreates them (see MakeDirectory).
        foreach (var parent in new[] { ScopeDirectory, Path.Combine(devicesMount, Prefix) })
            if (unlinkat(AT_FDCWD, parent, AT_REMOVEDIR) == -1) break;
    }

    private static void KillMembers(string dir)
    {
        try
        {
            foreach (var line in File.ReadLines(Path.Combine(dir, "cgroup.procs")))
                if (int.TryParse(line, out int pid) && pid > 0) kill(pid, SIGKILL);
        }
        catch (IOException) { /* gone meanwhile */ }
    }

    /// <summary>mkdir -p, started over when a parent vanishes under it (another container's Remove took its last
    /// child out).</summary>
    private void MakeDirectory(string dir)
    {
        if (KernelFailPoint.Injected("cgroup")) throw new SyscallException("mkdir", dir, (int)Errno.EPERM);
        string[] chain = [Path.Combine(devicesMount, Prefix), ScopeDirectory, dir];
        for (int attempt = 0; attempt < 10; attempt++)
        {
            int made = 0;
            for (; made < chain.Length; made++)
            {
                if (mkdirat(AT_FDCWD, chain[made], 0x1ED /* 0755 */) == 0 || LastErrno == EEXIST) continue;
                if (LastErrno == ENOENT && made > 0) break;
                throw new SyscallException("mkdir", chain[made], LastErrno);
            }
            if (made == chain.Length) return;
        }
        throw new SyscallException("mkdir", dir, ENOENT);
    }

    private static void Write(string path, string value, string failPoint)
    {
        using var fd = Fd.Open(path, O_WRONLY | O_CLOEXEC);
        if (KernelFailPoint.Injected(failPoint)) throw new SyscallException("write", path, (int)Errno.EPERM);
        try { fd.WriteAll(Encoding.ASCII.GetBytes(value)); }
        catch (SyscallException e) { throw new SyscallException("write " + value, path, (int)e.Errno); }
    }

    private static string Short(string id) => id.Length > 12 ? id[..12] : id;
}
