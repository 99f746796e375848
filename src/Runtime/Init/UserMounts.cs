using MiniDocker.Linux;
using MiniDocker.Runtime.Volumes;
using static MiniDocker.Linux.Libc;

namespace MiniDocker.Runtime.Init;

/// <summary>
/// The user's mounts (-v, --mount, --tmpfs) and the --init binary, made by the init in the container's mount
/// namespace before pivot_root, while the host's tree is still visible. Each target is resolved inside the root with
/// openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) and mounted onto /proc/self/fd/N, as runc does: a symlink the
/// image has, or one a container sharing a volume swaps in meanwhile (CVE-2021-30465), is followed as if the root
/// were "/", so the mount cannot land on a host path.
/// </summary>
internal static unsafe class UserMounts
{
    /// <summary>Docker's path for the init binary (tini) in the container.</summary>
    public const string InitPath = "/sbin/docker-init";
    /// <summary>Debian's tini package: statically linked, so it runs in any image.</summary>
    public const string TiniStatic = "/usr/bin/tini-static";

    public static void Apply(string root, ContainerConfig config)
    {
        var sources = OpenSources(config);
        try { Mount(root, sources); }
        finally { foreach (var (_, source) in sources) source?.Dispose(); }
    }

    /// <summary>Each mount with its source opened (O_PATH; null for tmpfs), in mounting order. Opened first, apart from
    /// the mounting: a --userns=auto init opens them while it is still host root (the sources are host paths its
    /// mapped ids may not reach) and mounts them as the namespace's root.</summary>
    public static List<(MountSpec Spec, Fd? Source)> OpenSources(ContainerConfig config)
    {
        // Parents before children (Docker sorts by depth), so "-v a:/data -v b:/data/sub" puts b on top of a; the sort
        // is stable, and equal depths keep the user's order.
        var specs = config.Mounts.OrderBy(m => m.Target.Count(c => c == '/')).ToList();
        if (config.Init)
        {
            if (!File.Exists(TiniStatic))
                throw new ContainerException($"--init needs {TiniStatic}: install Debian's tini package (apt-get install tini)");
            specs.Add(new MountSpec { Type = MountType.Bind, HostPath = TiniStatic, Target = InitPath, ReadOnly = true });
        }
        var opened = new List<(MountSpec, Fd?)>();
        try
        {
            foreach (var spec in specs)
            {
                if (spec.Type == MountType.Tmpfs) { opened.Add((spec, null)); continue; }
                // The source is the user's own host path (or the volume's _data, in the 0700 store): opened once, and the
                // descriptor is what gets mounted, so it cannot change between the check and the spec.
                int fd = open(spec.HostPath, O_PATH | O_CLOEXEC, 0);
                if (fd < 0) throw new ContainerException($"error mounting \"{spec.HostPath}\" to rootfs at \"{spec.Target}\": " +
                    $"{SyscallException.Last("open", spec.HostPath).Message}");
                opened.Add((spec, new Fd(fd, spec.HostPath)));
            }
            return opened;
        }
        catch
        {
            foreach (var (_, source) in opened) source?.Dispose();
            throw;
        }
    }

    public static void Mount(string root, IReadOnlyList<(MountSpec Spec, Fd? Source)> sources)
    {
        using var rootFd = Fd.Open(root, O_PATH | O_DIRECTORY);
        root = VolumeCopyUp.ReadLink($"/proc/self/fd/{rootFd.Value}"); // compared with resolved paths below
        foreach (var (spec, source) in sources)
            MountOne(rootFd, root, spec, source);
    }

    private static void MountOne(Fd rootFd, string root, MountSpec spec, Fd? source)
    {
        // Binds and volumes get neither nosuid nor nodev, as in Docker: `-v /dev/snd:/dev/snd` and the like must work,
        // device nodes are kept in check by the device cgroup, and those flags only act inside the container: they
        // would not stop a host user running a setuid file the container wrote, which the 0700 volume store and the
        // user's choice of bind source do. tmpfs gets Docker's noexec,nosuid,nodev unless the options say otherwise.
        bool directory = true;
        if (source is not null)
        {
            Tmds.Linux.stat st;
            Check(fstat(source.Value, &st), "stat", spec.HostPath);
            directory = ((int)(uint)st.st_mode & S_IFMT) == S_IFDIR;
        }
        using var target = ResolveTarget(rootFd, root, spec.Target, directory);
        string targetPath = $"/proc/self/fd/{target.Value}";
        if (source is null)
        {
            Check(mount("tmpfs", targetPath, "tmpfs", spec.TmpfsFlags, spec.TmpfsData.Length == 0 ? null : spec.TmpfsData), "mount(tmpfs)", spec.Target);
            return;
        }
        Check(mount($"/proc/self/fd/{source.Value}", targetPath, null, MS_BIND | MS_REC, null), "mount(bind)", spec.Target);
        // The new mount is on top of the descriptor's directory: open it again (inside the root) and make sure it is
        // the mount just made (the source's inode) before changing its flags, so `ro` cannot be applied elsewhere.
        using var mounted = ResolveTarget(rootFd, root, spec.Target, directory);
        Tmds.Linux.stat a, b;
        Check(fstat(source.Value, &a), "stat", spec.HostPath);
        Check(fstat(mounted.Value, &b), "stat", spec.Target);
        if (a.st_dev != b.st_dev || a.st_ino != b.st_ino)
            throw new ContainerException($"mount target {spec.Target} changed while it was being mounted");
        string mountedPath = $"/proc/self/fd/{mounted.Value}";
        Check(mount(null, mountedPath, null, MS_REC | MS_PRIVATE, null), "mount(rprivate)", spec.Target);
        if (spec.ReadOnly)
            Check(mount(null, mountedPath, null, MS_BIND | MS_REMOUNT | MS_RDONLY | ReadOnlyRemountKeeps(source), null), "mount(remount ro)", spec.Target);
    }

    /// <summary>In a user namespace the flags a bind inherited from a host mount (nosuid, nodev, noexec) are locked: a
    /// remount that would clear one is refused (EPERM), so the read-only remount repeats them (runc does the same).
    /// Outside one, the same flags are simply kept.</summary>
    private static ulong ReadOnlyRemountKeeps(Fd source)
    {
        Tmds.Linux.statvfs vfs;
        if (Tmds.Linux.LibC.fstatvfs(source.Value, &vfs) != 0) return 0;
        ulong flags = (ulong)vfs.f_flag;
        ulong kept = 0;
        if ((flags & 2UL) != 0) kept |= MS_NOSUID;   // ST_NOSUID
        if ((flags & 4UL) != 0) kept |= MS_NODEV;    // ST_NODEV
        if ((flags & 8UL) != 0) kept |= MS_NOEXEC;   // ST_NOEXEC
        return kept;
    }

    private static int In(Fd rootFd, string relative, int flags) =>
        openat2(rootFd.Value, relative.Length == 0 ? "." : relative, (ulong)(flags | O_CLOEXEC), RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);

    /// <summary>An O_PATH descriptor of <paramref name="target"/> resolved inside the root, made (directories 0755, an
    /// empty file for a file bind) where missing. Refuses a target that resolves to the root itself or into /proc.</summary>
    internal static Fd ResolveTarget(Fd rootFd, string root, string target, bool directory, int depth = 0)
    {
        var parts = target.Split('/', StringSplitOptions.RemoveEmptyEntries);
        for (int i = 0; i < parts.Length; i++)
        {
            bool last = i == parts.Length - 1;
            string prefix = string.Join('/', parts[..(i + 1)]);
            int fd = In(rootFd, prefix, O_PATH);
            if (fd < 0 && LastErrno == ENOENT)
            {
                // Made in its parent, resolved the same safe way; mkdirat/openat on one name never follow a symlink
                // there (EEXIST instead).
                int parentFd = In(rootFd, string.Join('/', parts[..i]), O_PATH | O_DIRECTORY);
                if (parentFd < 0) throw Failed(target, "open", string.Join('/', parts[..i]));
                using (var parent = new Fd(parentFd, target))
                {
                    int made = !last || directory
                        ? mkdirat(parent.Value, parts[i], 0b111_101_101)
                        : openat(parent.Value, parts[i], O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0b110_100_100);
                    if (made < 0 && LastErrno != EEXIST) throw Failed(target, "mkdir", prefix);
                    if (made >= 0 && last && !directory) close(made);
                }
                fd = In(rootFd, prefix, O_PATH);
                if (fd < 0 && LastErrno == ENOENT)
                {
                    // Still missing after EEXIST: the name is a symlink to nowhere. As runc does, its target is made
                    // instead, read inside the root like every other path here (an absolute link starts at the root).
                    if (depth >= 40) throw new ContainerException($"cannot mount onto {target}: too many levels of symbolic links");
                    string link = ReadLinkAt(rootFd, string.Join('/', parts[..i]), parts[i], target);
                    string rest = string.Join('/', parts[(i + 1)..]);
                    string next = (link.StartsWith('/') ? link : "/" + string.Join('/', parts[..i]) + "/" + link) + (rest.Length > 0 ? "/" + rest : "");
                    return ResolveTarget(rootFd, root, next, directory, depth + 1);
                }
            }
            if (fd < 0) throw Failed(target, "open", prefix);
            if (!last) { close(fd); continue; }

            var result = new Fd(fd, target);
            try
            {
                string real = VolumeCopyUp.ReadLink($"/proc/self/fd/{fd}");
                if (real != root && !real.StartsWith(root + "/", StringComparison.Ordinal))
                    throw new ContainerException($"mount target {target} resolves outside the container ({real})");
                string inContainer = real == root ? "/" : real[root.Length..];
                if (inContainer == "/") throw new ContainerException($"cannot mount onto {target}: it resolves to the container's root");
                // A symlink in the image (/data -> /proc/sys) must not lead a mount into /proc either.
                MountParser.CheckNotInProc(inContainer);
                Tmds.Linux.stat st;
                Check(fstat(fd, &st), "stat", target);
                bool isDirectory = ((int)(uint)st.st_mode & S_IFMT) == S_IFDIR;
                if (directory && !isDirectory) throw new ContainerException($"cannot mount a directory onto {target}: not a directory in the container");
                if (!directory && isDirectory) throw new ContainerException($"cannot mount a file onto {target}: it is a directory in the container");
                return result;
            }
            catch
            {
                result.Dispose();
                throw;
            }
        }
        throw new ContainerException($"cannot mount onto {target}: it is the container's root");
    }

    private static string ReadLinkAt(Fd rootFd, string parentPath, string name, string target)
    {
        int parentFd = In(rootFd, parentPath, O_PATH | O_DIRECTORY);
        if (parentFd < 0) throw Failed(target, "open", parentPath);
        using var parent = new Fd(parentFd, parentPath);
        byte* buffer = stackalloc byte[4096];
        nint n = readlinkat(parent.Value, name, buffer, 4096);
        if (n < 0) throw Failed(target, "readlink", parentPath + "/" + name);
        return System.Text.Encoding.UTF8.GetString(buffer, (int)n);
    }

    private static ContainerException Failed(string target, string call, string relative) =>
        new($"cannot mount onto {target}: {SyscallException.Last(call, "/" + relative).Message}");
}
