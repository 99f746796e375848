namespace MiniDocker.Linux;

/// <summary>Crash-safe replacement of small state files that several minidocker processes share.</summary>
public static class AtomicFile
{
    /// <summary>
    /// Temp file in the same directory, fsync, rename: a reader, or the state after a crash, sees the old content or
    /// the new, never half of it. <paramref name="fsyncDirectory"/> also makes the rename itself durable across a
    /// power cut; it costs a journal commit (~3 ms here), so callers that rewrite a file many times per command and
    /// can recover from losing the last rename (container state) pass false. <paramref name="fsyncFile"/> false skips the
    /// data's fsync too: a killed process still leaves the old file or the new, but a power cut may leave the new name
    /// with no data (a zero-length file), which the caller must read as "lost". The temp file never outlives a failure.
    /// </summary>
    public static void Write(string path, ReadOnlySpan<byte> content, bool fsyncDirectory, int mode = 0b110_100_100,
        bool fsyncFile = true)
    {
        string directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(directory);
        string temp = Path.Combine(directory, $".{Path.GetFileName(path)}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            using (var fd = Fd.Open(temp, Libc.O_WRONLY | Libc.O_CREAT | Libc.O_EXCL, mode))
            {
                // In two halves, so a test's crash:write#N can stop between them (a power cut mid-write).
                fd.WriteAll(content[..(content.Length / 2)]);
                FailPoint.AtWrite();
                fd.WriteAll(content[(content.Length / 2)..]);
                if (fsyncFile) fd.Fsync();
            }
            File.Move(temp, path, overwrite: true);
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { } // the original error is the one to report
            throw;
        }
        if (fsyncDirectory) FsyncDirectory(directory);
    }

    /// <summary>Deletes <paramref name="path"/> if present; with <paramref name="fsyncDirectory"/> the removal is durable.</summary>
    public static void Delete(string path, bool fsyncDirectory)
    {
        if (!File.Exists(path)) return;
        File.Delete(path);
        if (fsyncDirectory) FsyncDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
    }

    public static void FsyncDirectory(string directory)
    {
        using var fd = Fd.Open(directory, Libc.O_RDONLY | Libc.O_DIRECTORY);
        fd.Fsync();
    }
}
