using MiniDocker.Linux;
using MiniDocker.Runtime.Native;
using MiniDocker.Runtime.Volumes;
using static MiniDocker.Linux.Libc;

namespace MiniDocker.Runtime.Init;

/// <summary>
/// Builds the container's root inside its new mount namespace and pivots into it. Every mount made here lives only
/// in that namespace, so nothing needs unmounting on the host when the container ends: the kernel drops them with
/// the namespace.
/// </summary>
internal static class RootfsSetup
{
    public static void Prepare(ContainerConfig config, string containerDir)
    {
        // Our mounts must not propagate back to the host (systemd makes / shared), and host mounts made later must
        // not appear in the container: rprivate before anything else.
        Check(mount(null, "/", null, MS_REC | MS_PRIVATE, null), "mount(rprivate)", "/");
        if (config.OwnUserns)
        {
            PrepareInUserns(config, containerDir);
            return;
        }

        string root = Path.Combine(containerDir, "merged");
        string overlayOptions = $"lowerdir={LowerDirOption(config)},upperdir={Path.Combine(containerDir, "upper")}," +
                                $"workdir={Path.Combine(containerDir, "work")}";
        Check(mount("overlay", root, "overlay", 0, overlayOptions), "mount(overlay)", root);

        MountInto(root, "proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, null);
        // Read-only unless --privileged (Docker): a writable /sys reconfigures host devices.
        MountInto(root, "sys", "sysfs", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | (config.Privileged ? 0 : MS_RDONLY), null);
        MountInto(root, "dev", "tmpfs", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k");
        PopulateDev(Path.Combine(root, "dev"));
        CreateDeviceNodes(root, config.Devices);
        foreach (var name in new[] { "hosts", "hostname", "resolv.conf" })
            BindFile(Path.Combine(containerDir, name), root, Path.Combine("etc", name));
        UserMounts.Apply(root, config);

        PivotRoot(root);
        if (!config.Privileged) MaskKernelPaths();
        // After every mount point is made (a read-only root could not get new directories): only the root mount itself
        // turns read-only, the mounts on it (volumes, tmpfs, /dev, the /etc files) stay as they are, as in Docker.
        if (config.ReadOnlyRootfs) Check(mount(null, "/", null, MS_BIND | MS_REMOUNT | MS_RDONLY, null), "mount(remount / ro)", "/");
    }

    private static readonly (string Name, uint Major, uint Minor)[] StandardDevices =
        [("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0)];

    /// <summary>
    /// --userns=auto. The overlay is already mounted on merged/ (by minidocker outside, on idmapped layers). This process
    /// is still host uid 0 with the namespace's capabilities (ambient across its exec): it may open the host's paths (the
    /// 0700 state directory is host root's), but could create nothing in a file system of the namespace (a tmpfs made
    /// here refuses host uid 0, which has no id in the namespace: EOVERFLOW), and what it created in the overlay would
    /// be host root's, "nobody" inside. So every host path is opened first; then it becomes the namespace's root; then
    /// everything is mounted from those descriptors through /proc/self/fd, without a path lookup in the host's tree.
    /// Devices cannot be made in a user namespace (mknod: EPERM) and a device node on a file system of the namespace
    /// would not open anyway: the host's nodes are bind-mounted, as runc does.
    /// </summary>
    private static void PrepareInUserns(ContainerConfig config, string containerDir)
    {
        var opened = new List<Fd>();
        Fd Open(string path, int flags)
        {
            var fd = Fd.Open(path, flags | O_CLOEXEC);
            opened.Add(fd);
            return fd;
        }
        List<(MountSpec Spec, Fd? Source)> userMounts = [];
        try
        {
            var rootFd = Open(Path.Combine(containerDir, "merged"), O_PATH | O_DIRECTORY);
            var etcFiles = new[] { "hosts", "hostname", "resolv.conf" }.Select(n => (Name: n, Fd: Open(Path.Combine(containerDir, n), O_PATH))).ToList();
            var standard = StandardDevices.Select(d => (d.Name, Fd: Open("/dev/" + d.Name, O_PATH))).ToList();
            var devices = config.Devices.Select(d => (Device: d, Fd: Open(d.PathOnHost, O_PATH))).ToList();
            userMounts = UserMounts.OpenSources(config);

            BecomeNamespaceRoot();
            string root = $"/proc/self/fd/{rootFd.Value}";
            MountInto(root, "proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, null);
            MountInto(root, "sys", "sysfs", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, null);
            MountInto(root, "dev", "tmpfs", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k");
            string dev = Path.Combine(root, "dev");
            foreach (var (name, fd) in standard) BindFile($"/proc/self/fd/{fd.Value}", root, "dev/" + name);
            PopulateDevLinks(dev);
            foreach (var (device, fd) in devices)
            {
                string relative = device.PathInContainer.TrimStart('/');
                if (relative.Split('/').Contains("..") || !relative.Contains('/'))
                    throw new ContainerException($"invalid device path in the container: {device.PathInContainer}");
                BindFile($"/proc/self/fd/{fd.Value}", root, relative);
            }
            foreach (var (name, fd) in etcFiles) BindFile($"/proc/self/fd/{fd.Value}", root, Path.Combine("etc", name));
            UserMounts.Mount(root, userMounts);

            PivotRoot(root);
            MaskKernelPaths(); // --privileged is refused with --userns=auto
            if (config.ReadOnlyRootfs) Check(mount(null, "/", null, MS_BIND | MS_REMOUNT | MS_RDONLY, null), "mount(remount / ro)", "/");
        }
        finally
        {
            foreach (var fd in opened) fd.Dispose();
            foreach (var (_, source) in userMounts) source?.Dispose();
        }
    }

    /// <summary>Root of the user namespace (host ids HostUid/HostGid): setgroups first (host root's groups have no id
    /// here), then the group, then the user. glibc applies each to every thread of this process.</summary>
    private static unsafe void BecomeNamespaceRoot()
    {
        Check(setgroups(0, null), "setgroups");
        Check(setresgid(0, 0, 0), "setresgid", "0");
        Check(setresuid(0, 0, 0), "setresuid", "0");
    }

    /// <summary>
    /// The lowerdir list, top-most first. Many layers exceed the one page mount(2) passes: the layer store names
    /// them by short links in one directory, so we chdir there and list them relative to it (Docker's overlay2
    /// does the same), about 140 layers per page instead of about 50 with full paths. The chdir is harmless: the
    /// init chdirs into the container's working directory after pivot_root.
    /// </summary>
    private static string LowerDirOption(ContainerConfig config)
    {
        if (config.RootfsLowers is not { Count: > 0 } lowers)
            return config.RootfsLower;
        foreach (var lower in lowers)
            if (lower.Contains(':') || lower.Contains(','))
                throw new ContainerException($"layer path '{lower}' contains ':' or ',', which overlay's options cannot carry");
        var parents = lowers.Select(Path.GetDirectoryName).Distinct().ToList();
        if (parents is [{ } parent])
        {
            Check(chdir(parent), "chdir", parent);
            return string.Join(':', lowers.Select(Path.GetFileName));
        }
        return string.Join(':', lowers);
    }

    /// <summary>
    /// Mounts onto a path inside the image. The image is untrusted: if any component of the path were a symlink
    /// (say /proc -> /etc on the host), mount(2) would follow it out of the container before pivot_root
    /// (the class of CVE-2019-16884 / CVE-2021-30465), so each component is checked and created as a directory.
    /// </summary>
    private static void MountInto(string root, string relative, string source, string fstype, ulong flags, string? data)
    {
        string target = EnsureInside(root, relative, directory: true);
        Check(mount(source, target, fstype, flags, data), $"mount({fstype})", target);
    }

    private static void BindFile(string source, string root, string relative)
    {
        string target = EnsureInside(root, relative, directory: false);
        Check(mount(source, target, null, MS_BIND, null), "mount(bind)", target);
    }

    private static string EnsureInside(string root, string relative, bool directory)
    {
        string current = root;
        var parts = relative.Split('/', StringSplitOptions.RemoveEmptyEntries);
        for (int i = 0; i < parts.Length; i++)
        {
            current = Path.Combine(current, parts[i]);
            bool last = i == parts.Length - 1;
            var info = new FileInfo(current);
            if (info.LinkTarget is not null)
                throw new ContainerException($"refusing to mount over /{relative}: /{string.Join('/', parts[..(i + 1)])} in the image is a symbolic link");
            if (info.Exists && (!last || directory)) throw new ContainerException($"/{relative} in the image is not a directory");
            if (!info.Exists && !Directory.Exists(current))
            {
                if (last && !directory) File.WriteAllBytes(current, []);
                else Directory.CreateDirectory(current);
            }
        }
        return current;
    }

    private static ulong MakeDev(uint major, uint minor) => ((ulong)major << 8) | minor;

    private static void PopulateDev(string dev)
    {
        foreach (var (name, major, minor) in StandardDevices)
        {
            string path = Path.Combine(dev, name);
            Check(mknod(path, S_IFCHR | 0x1B6, MakeDev(major, minor)), "mknod", path);
            Check(chmod(path, 0x1B6), "chmod", path); // umask would otherwise strip the 0666
        }
        PopulateDevLinks(dev);
    }

    /// <summary>/dev's own file systems (devpts, shm, mqueue) and links, made alike in and out of a user namespace.</summary>
    private static void PopulateDevLinks(string dev)
    {
        // A private devpts instance: the container's ptys are numbered from 0 and invisible to the host's.
        string pts = Path.Combine(dev, "pts");
        Directory.CreateDirectory(pts);
        Check(mount("devpts", pts, "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620"), "mount(devpts)", pts);
        Check(symlink("pts/ptmx", Path.Combine(dev, "ptmx")), "symlink", "/dev/ptmx");
        string shm = Path.Combine(dev, "shm");
        Directory.CreateDirectory(shm);
        Check(mount("shm", shm, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k"), "mount(tmpfs)", shm);
        string mqueue = Path.Combine(dev, "mqueue");
        Directory.CreateDirectory(mqueue);
        Check(mount("mqueue", mqueue, "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, null), "mount(mqueue)", mqueue);
        foreach (var (link, target) in new[] { ("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                     ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2") })
            Check(symlink(target, Path.Combine(dev, link)), "symlink", "/dev/" + link);
    }

    /// <summary>`--device`: the host node's type, numbers, mode and owner at its path in the container (the device cgroup
    /// allows it). The path is walked like a mount target: the image must not redirect it with a symlink.</summary>
    private static void CreateDeviceNodes(string root, IReadOnlyList<Cgroups.DeviceMapping> devices)
    {
        foreach (var device in devices)
        {
            string relative = device.PathInContainer.TrimStart('/');
            string? parent = Path.GetDirectoryName(relative);
            if (string.IsNullOrEmpty(parent) || relative.Split('/').Contains(".."))
                throw new ContainerException($"invalid device path in the container: {device.PathInContainer}");
            string path = Path.Combine(EnsureInside(root, parent, directory: true), Path.GetFileName(relative));
            var existing = new FileInfo(path);
            if (Directory.Exists(path) && existing.LinkTarget is null)
                throw new ContainerException($"cannot create device {device.PathInContainer}: it is a directory in the container");
            if (existing.Exists || existing.LinkTarget is not null) File.Delete(path); // the path itself, never a link's target
            int type = device.Type == "b" ? S_IFBLK : S_IFCHR;
            Check(mknod(path, type | (int)device.FileMode, Cgroups.DeviceNumbers.Make(device.Major, device.Minor)), "mknod", device.PathInContainer);
            Check(chmod(path, (int)device.FileMode), "chmod", device.PathInContainer); // umask would strip bits
            Check(fchownat(AT_FDCWD, path, device.Uid, device.Gid, AT_SYMLINK_NOFOLLOW), "chown", device.PathInContainer);
        }
    }

    /// <summary>
    /// pivot_root(".", ".") as runc does: it needs no directory for the old root inside the image; the old root is
    /// stacked on top of the new one and detached at once, so the host's tree is unreachable (chroot would leave it
    /// reachable through a second chroot and a chdir("..")).
    /// </summary>
    private static void PivotRoot(string root)
    {
        using var newRoot = Fd.Open(root, O_RDONLY | O_DIRECTORY);
        Check(fchdir(newRoot.Value), "fchdir", root);
        Check(syscall(SYS_pivot_root, ".", "."), "pivot_root", root);
        Check(umount2(".", MNT_DETACH), "umount2(old root)", "/");
        Check(chdir("/"), "chdir", "/");
    }

    private static readonly string[] MaskedPaths = ["/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys",
        "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
        "/sys/firmware", "/sys/devices/virtual/powercap"];
    private static readonly string[] ReadOnlyPaths = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

    /// <summary>Docker's default masks: kernel interfaces that leak host information or let root in the container
    /// reconfigure the host (/proc/sysrq-trigger, /proc/sys) are hidden or made read-only. A mask that fails stops
    /// the container: only a path this kernel does not have is skipped, as runc does.</summary>
    private static void MaskKernelPaths()
    {
        foreach (var path in MaskedPaths)
        {
            if (Directory.Exists(path)) Mask("tmpfs", path, "tmpfs", MS_RDONLY, "mount(mask)");
            else if (File.Exists(path)) Mask("/dev/null", path, null, MS_BIND, "mount(mask)");
        }
        foreach (var path in ReadOnlyPaths)
        {
            if (!Path.Exists(path)) continue;
            if (!Mask(path, path, null, MS_BIND | MS_REC, "mount(bind)")) continue;
            Mask(path, path, null, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC, "mount(remount ro)");
        }
    }

    /// <summary>false when the path vanished between the check and the mount (ENOENT); any other failure throws.</summary>
    private static bool Mask(string source, string target, string? fstype, ulong flags, string call)
    {
        int result = KernelFailPoint.Injected("mask") ? Fail(Errno.EPERM) : mount(source, target, fstype, flags, null);
        if (result == 0) return true;
        if (LastErrno == ENOENT) return false;
        throw new ContainerException($"cannot mask {target} in the container: {call}: " +
            System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(LastErrno).ToLowerInvariant());
    }

    private static int Fail(Errno errno)
    {
        System.Runtime.InteropServices.Marshal.SetLastPInvokeError((int)errno);
        return -1;
    }
}
