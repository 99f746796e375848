namespace MiniDocker.Linux;

/// <summary>The directory that holds all of one MiniDocker's state (--root).</summary>
public static class StateRoot
{
    // Kernel filesystems take writes as commands (a file under /proc/sys is a setting) or refuse them midway.
    private static readonly string[] KernelFilesystems = ["/proc", "/sys", "/dev"];

    /// <summary>What minidocker makes directly under a state root.</summary>
    private static readonly string[] OwnEntries = ["containers", "networks", "images", "trash", "config", "volumes", "daemon.json"];

    /// <summary>Owner only: state holds secrets (-e values), containers' files (a setuid binary made in a container
    /// would run as root for whoever reaches it) and images, as Docker's /var/lib/docker is not for other users.</summary>
    public const UnixFileMode PrivateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>Checks <paramref name="path"/> and creates it (mode 0700); returns its full path. A root made by an older
    /// version (0755) is tightened when it holds nothing but minidocker's own state; a directory the user shares with
    /// other things (--root /srv) keeps its mode, and what minidocker keeps in it is private by itself
    /// (<see cref="PrivateDirectory"/>).</summary>
    public static string Prepare(string path)
    {
        string full = Path.GetFullPath(path);
        // The nearest existing ancestor, resolved: a symlink must not lead the check astray.
        string existing = full;
        while (!Path.Exists(existing)) existing = Path.GetDirectoryName(existing) ?? "/";
        string real = new DirectoryInfo(existing).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? existing;
        if (KernelFilesystems.Any(k => real == k || real.StartsWith(k + "/", StringComparison.Ordinal)))
            throw new MiniDockerException($"state root {full} is on a kernel filesystem ({real}): choose a directory on a disk (--root)");
        if (File.Exists(full))
            throw new MiniDockerException($"state root {full} is a file, not a directory (--root)");
        if (File.Exists(existing) && existing != full)
            throw new MiniDockerException($"state root {full}: {existing} is a file, not a directory (--root)");
        if (!Directory.Exists(full))
            Directory.CreateDirectory(full, PrivateMode);
        else if (IsOpenToOthers(full) && Directory.EnumerateFileSystemEntries(full).All(e => OwnEntries.Contains(Path.GetFileName(e))))
            File.SetUnixFileMode(full, PrivateMode);
        return full;
    }

    /// <summary>A directory of the state only root may enter: made 0700, or tightened to it if it exists with group or
    /// other bits (made by an older version). Returns <paramref name="path"/>.</summary>
    public static string PrivateDirectory(string path)
    {
        if (!Directory.Exists(path)) Directory.CreateDirectory(path, PrivateMode); // umask only takes bits away
        if (IsOpenToOthers(path)) File.SetUnixFileMode(path, PrivateMode);
        return path;
    }

    private static bool IsOpenToOthers(string path) =>
        (File.GetUnixFileMode(path) & (UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
                                       UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute)) != 0;
}
