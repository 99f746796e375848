using System.Runtime.InteropServices;

namespace MiniDocker.Network;

internal static class AtomicFile
{
    /// <summary>
    /// Replaces <paramref name="path"/> so that a reader, or the state after a power cut, sees either the old or the
    /// new content, never a torn file: write a temp file in the same directory, fsync it, rename(2) it over the
    /// target, then fsync the directory so the rename itself is durable.
    /// </summary>
    public static void Write(string path, ReadOnlySpan<byte> content)
    {
        string directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(directory);
        string temp = Path.Combine(directory, $".{Path.GetFileName(path)}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                stream.Write(content);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, path, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
        FsyncDirectory(directory);
    }

    /// <summary>Deletes <paramref name="path"/> if present and makes the removal durable.</summary>
    public static void Delete(string path)
    {
        if (!File.Exists(path))
            return;
        File.Delete(path);
        FsyncDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
    }

    private static void FsyncDirectory(string directory)
    {
        using FdHandle fd = FdHandle.Open(directory, Native.O_RDONLY | Native.O_DIRECTORY);
        if (Native.Fsync(fd.Fd) != 0)
            throw new SystemCallException("fsync", directory, Marshal.GetLastPInvokeError());
    }
}
