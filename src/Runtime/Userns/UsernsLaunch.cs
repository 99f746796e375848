using System.Runtime.InteropServices;
using MiniDocker.Linux;
using MiniDocker.Runtime.Native;
using static MiniDocker.Linux.Libc;

namespace MiniDocker.Runtime.Userns;

/// <summary>The C half (src/Runtime/Native/userns-spawn.c), linked into the binary and bound at link time.</summary>
internal static unsafe partial class UsernsNative
{
    private const string Lib = "minidocker-native";
    public const int KeepHostId = 1, BecomeRoot = 2;

    [LibraryImport(Lib, EntryPoint = "minidocker_userns_spawn")]
    public static partial int Spawn(ulong cloneFlags, int goFd, int enterUserns, int mode, byte* exe, byte** argv, byte** envp,
        int* fdFrom, int* fdTo, int nfds);

    [LibraryImport(Lib, EntryPoint = "minidocker_idmapped_mount")]
    public static partial int IdmappedMount(byte* source, int usernsFd, byte* target, byte** step);

    [LibraryImport(Lib, EntryPoint = "minidocker_clear_inherited_capabilities")]
    public static partial int ClearInheritedCapabilities();
}

/// <summary>
/// The host side of --userns=auto: the init is cloned into a new user namespace by C code (a multithreaded process
/// may not unshare one), then, while it waits, this process (root outside) writes its uid_map/gid_map and, inside its
/// mount namespace, attaches idmapped copies of the image layers and mounts the overlay on them; then it says go.
/// </summary>
internal static class UsernsLaunch
{
    /// <summary>The byte the C child waits for on the command pipe.</summary>
    private static readonly byte[] Go = "M"u8.ToArray();

    /// <summary>The container's range (held since its first start, else allocated now: <paramref name="fresh"/>), with the
    /// directories the mapped root must own handed over to it.</summary>
    public static IdMapping Prepare(ContainerStore store, ContainerConfig config, string dir, out bool fresh)
    {
        var held = store.LoadState(config.Id)?.IdMapping;
        fresh = held is null;
        var ids = IdRanges.Allocate(store.ContainersDir, config.Id, config.UsernsSize > 0 ? config.UsernsSize : IdRanges.DefaultSize, held);
        if (fresh) store.UpdateState(config.Id, s => s.IdMapping = ids);
        // The upper and work directories are created owned by the mapped root: what the container writes is then owned
        // by its own ids on the host, never by host root. The /etc files are its to change, as in Docker.
        foreach (var name in new[] { "upper", "work", "hosts", "hostname", "resolv.conf" })
            Check(fchownat(AT_FDCWD, Path.Combine(dir, name), (uint)ids.HostUid, (uint)ids.HostGid, AT_SYMLINK_NOFOLLOW), "chown", Path.Combine(dir, name));
        return ids;
    }

    /// <summary>The undo of a first start's <see cref="Prepare"/>: the range goes back, the state forgets it.</summary>
    public static void Unprepare(ContainerStore store, ContainerConfig config)
    {
        IdRanges.Release(store.ContainersDir, config.Id);
        try { store.UpdateState(config.Id, s => s.IdMapping = null); } catch (IOException) { /* removed meanwhile */ }
    }

    /// <summary>Clones the init into new user, mount, uts, ipc, pid and net namespaces (the namespaces are owned by
    /// the new user namespace, which is what lets the init mount proc, sysfs and mqueue there).</summary>
    public static int SpawnInit(string path, IReadOnlyList<string> argv, IReadOnlyList<(int From, int To)> fdMap)
    {
        ulong flags = (ulong)(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNET);
        return SpawnFromThread(() =>
        {
            // The read-only bind of our own executable (CVE-2019-5736) is made in this thread's private mount
            // namespace, which the child's is copied from (and in which it is locked read-only).
            Check(unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)");
            ExecutableGuard.MakeReadOnly(path);
        }, flags, SyncFds.InitCommandFd, -1, UsernsNative.KeepHostId, path, argv, fdMap, "cannot create the container's namespaces");
    }

    /// <summary>exec into a --userns=auto container: <paramref name="enterNamespaces"/> joins its other namespaces on the
    /// spawning thread; the child joins the user namespace (fd <paramref name="usernsFdInChild"/> after the fd map)
    /// and becomes its root before it executes exec's init.</summary>
    public static int SpawnExec(Action enterNamespaces, int usernsFdInChild, string path, IReadOnlyList<string> argv,
        IReadOnlyList<(int From, int To)> fdMap) =>
        SpawnFromThread(enterNamespaces, 0, -1, usernsFdInChild, UsernsNative.BecomeRoot, path, argv, fdMap,
            "cannot enter the container's namespaces");

    private static unsafe int SpawnFromThread(Action enterNamespaces, ulong flags, int goFd, int enterUserns, int mode,
        string path, IReadOnlyList<string> argv, IReadOnlyList<(int From, int To)> fdMap, string failure)
    {
        var env = Spawn.HostEnvironment();
        int pid = 0;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                enterNamespaces();
                using var strings = new NativeStrings();
                int* from = stackalloc int[fdMap.Count], to = stackalloc int[fdMap.Count];
                for (int i = 0; i < fdMap.Count; i++) (from[i], to[i]) = fdMap[i];
                int r = UsernsNative.Spawn(flags, goFd, enterUserns, mode, strings.Add(path), strings.AddArray(argv),
                    strings.AddArray(env), from, to, fdMap.Count);
                if (r < 0) throw new SyscallException("clone3", null, -r);
                pid = r;
            }
            catch (Exception ex) { error = ex; }
        }, maxStackSize: 256 * 1024);
        thread.Start();
        thread.Join();
        if (error is not null) throw new ContainerException($"{failure}: {error.Message}", ExitCodes.RuntimeError, error);
        return pid;
    }

    /// <summary>
    /// Between clone and go: the id maps (written by root from outside, so the kernel allows any range and setgroups
    /// stays allowed), then the root filesystem. overlayfs takes idmapped lower layers (5.19+), but its layers are
    /// paths: each layer's idmapped copy is attached at &lt;dir&gt;/lowers/N inside the init's own mount namespace
    /// (where nobody else sees it, and which drops it when the container ends), and the overlay is mounted there by
    /// this process, root in the host's user namespace, so overlay keeps its trusted.* xattrs (opaque directories,
    /// whiteouts) that a mount made inside the user namespace could neither read nor write.
    /// </summary>
    public static void MapAndMount(int pid, IdMapping ids, ContainerConfig config, string dir, int commandFd)
    {
        WriteMap($"/proc/{pid}/uid_map", $"0 {ids.HostUid} {ids.Size}\n");
        WriteMap($"/proc/{pid}/gid_map", $"0 {ids.HostGid} {ids.Size}\n");
        FailPoint.Check("run.userns-mapped");

        var lowers = config.RootfsLowers is { Count: > 0 } l ? l : [config.RootfsLower];
        string lowersDir = Path.Combine(dir, "lowers");
        StateRoot.PrivateDirectory(lowersDir);
        for (int i = 0; i < lowers.Count; i++) Directory.CreateDirectory(Path.Combine(lowersDir, i.ToString()));
        using var userns = Fd.Open($"/proc/{pid}/ns/user", O_RDONLY);
        using var mntns = Fd.Open($"/proc/{pid}/ns/mnt", O_RDONLY);
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                // setns(CLONE_NEWNS) refuses a thread sharing its fs struct (root, cwd) with others.
                Check(unshare(CLONE_FS), "unshare(CLONE_FS)");
                Check(setns(mntns.Value, CLONE_NEWNS), "setns(mnt)", $"the mount namespace of process {pid}");
                for (int i = 0; i < lowers.Count; i++) IdmappedMount(lowers[i], userns.Value, Path.Combine(lowersDir, i.ToString()));
                // Relative layer names after a chdir: as short as the layer store's own links (a page holds ~140 layers).
                Check(chdir(lowersDir), "chdir", lowersDir);
                string options = $"lowerdir={string.Join(':', Enumerable.Range(0, lowers.Count))}," +
                                 $"upperdir={Path.Combine(dir, "upper")},workdir={Path.Combine(dir, "work")}";
                string merged = Path.Combine(dir, "merged");
                Check(mount("overlay", merged, "overlay", 0, options), "mount(overlay on idmapped layers)", merged);
            }
            catch (Exception ex) { error = ex; }
        }, maxStackSize: 256 * 1024);
        thread.Start();
        thread.Join();
        if (error is not null) throw new ContainerException($"cannot prepare the container's root in its user namespace: {error.Message}", ExitCodes.RuntimeError, error);

        WriteAll(commandFd, Go, "the init's command pipe");
    }

    private static unsafe void IdmappedMount(string source, int usernsFd, string target)
    {
        using var strings = new NativeStrings();
        byte* step = null;
        int r = UsernsNative.IdmappedMount(strings.Add(source), usernsFd, strings.Add(target), &step);
        if (r < 0) throw new SyscallException(Marshal.PtrToStringUTF8((nint)step) ?? "idmapped mount", source, -r);
    }

    private static void WriteMap(string path, string map)
    {
        using var fd = Fd.Open(path, O_WRONLY);
        WriteAll(fd.Value, System.Text.Encoding.ASCII.GetBytes(map), path);
    }

    // One write(2): a map must be written whole in one call, and a pipe takes one byte at once.
    private static unsafe void WriteAll(int fd, byte[] bytes, string target)
    {
        fixed (byte* b = bytes)
            if (write(fd, b, bytes.Length) != bytes.Length) throw SyscallException.Last("write", target);
    }
}
