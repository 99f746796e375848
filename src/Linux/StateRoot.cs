namespace MiniDocker.Linux;

/// <summary>The directory that holds all of one MiniDocker's state (--root).</summary>
public static class StateRoot
{
    // Kernel filesystems take writes as commands (a file under /proc/sys is a setting) or refuse them midway.
    private static readonly string[] KernelFilesystems = ["/proc", "/sys", "/dev"];

    /// <summary>Checks <paramref name="path"/> and creates it (mode 0700: state holds secrets and containers' files,
    /// as Docker's /var/lib/docker is not for other users); returns its full path.</summary>
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
            Directory.CreateDirectory(full, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return full;
    }
}
