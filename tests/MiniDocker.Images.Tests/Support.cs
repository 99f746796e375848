using System.Diagnostics;
using System.Formats.Tar;
using System.Text;

namespace MiniDocker.Images.Tests;

/// <summary>A scratch directory under /tmp with a recognisable prefix, removed when the test ends.</summary>
internal sealed class Sandbox : IDisposable
{
    public string Path { get; } =
        System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"mdk-imgtest-{Guid.NewGuid().ToString("N")[..10]}");

    public Sandbox() => Directory.CreateDirectory(Path);

    public string this[string relative] => System.IO.Path.Combine(Path, relative);

    public string Dir(string relative)
    {
        var dir = this[relative];
        Directory.CreateDirectory(dir);
        return dir;
    }

    // FileTree rather than Directory.Delete, which fails on a tree whose paths exceed PATH_MAX.
    public void Dispose() => FileTree.Remove(System.IO.Path.GetDirectoryName(Path)!, System.IO.Path.GetFileName(Path));
}

/// <summary>
/// Builds tarballs in memory, hostile ones included. System.Formats.Tar's writer is used because, unlike
/// SharpCompress's TarWriter, it can write symlinks, hard links, device nodes, FIFOs and arbitrary names.
/// </summary>
internal sealed class TarBuilder
{
    public static readonly DateTimeOffset DefaultTime = new(2020, 1, 2, 3, 4, 5, TimeSpan.Zero);
    private readonly MemoryStream _stream = new();
    private readonly TarWriter _writer;

    public TarBuilder() => _writer = new TarWriter(_stream, TarEntryFormat.Pax, leaveOpen: true);

    private TarBuilder Add(TarEntryType type, string name, Action<PaxTarEntry>? configure = null)
    {
        var entry = new PaxTarEntry(type, name)
        {
            Mode = type == TarEntryType.Directory ? (UnixFileMode)0x1ED : (UnixFileMode)0x1A4,
            ModificationTime = DefaultTime,
        };
        configure?.Invoke(entry);
        _writer.WriteEntry(entry);
        return this;
    }

    public TarBuilder File(string name, string content, int mode = 0x1A4, int uid = 0, int gid = 0,
        DateTimeOffset? modified = null) =>
        Add(TarEntryType.RegularFile, name, e =>
        {
            e.DataStream = new MemoryStream(Encoding.UTF8.GetBytes(content));
            e.Mode = (UnixFileMode)mode;
            e.Uid = uid;
            e.Gid = gid;
            e.ModificationTime = modified ?? DefaultTime;
        });

    public TarBuilder Directory(string name, int mode = 0x1ED, int uid = 0, int gid = 0, DateTimeOffset? modified = null) =>
        Add(TarEntryType.Directory, name, e =>
        {
            e.Mode = (UnixFileMode)mode;
            e.Uid = uid;
            e.Gid = gid;
            e.ModificationTime = modified ?? DefaultTime;
        });

    public TarBuilder Symlink(string name, string target, int uid = 0, int gid = 0) =>
        Add(TarEntryType.SymbolicLink, name, e =>
        {
            e.LinkName = target;
            e.Uid = uid;
            e.Gid = gid;
        });

    public TarBuilder HardLink(string name, string target) =>
        Add(TarEntryType.HardLink, name, e => e.LinkName = target);

    public TarBuilder CharDevice(string name, int major, int minor) =>
        Add(TarEntryType.CharacterDevice, name, e => { e.DeviceMajor = major; e.DeviceMinor = minor; });

    public TarBuilder BlockDevice(string name, int major, int minor) =>
        Add(TarEntryType.BlockDevice, name, e => { e.DeviceMajor = major; e.DeviceMinor = minor; });

    public TarBuilder Fifo(string name) => Add(TarEntryType.Fifo, name);

    public byte[] Build()
    {
        _writer.Dispose();
        return _stream.ToArray();
    }
}

/// <summary>Tar bytes written by hand, for what System.Formats.Tar's writer will not write.</summary>
internal static class RawTar
{
    /// <summary>One regular file preceded by a PAX extended header holding <paramref name="records"/> verbatim.</summary>
    public static byte[] FileWithPaxRecords(string name, string content, params (string Key, string Value)[] records)
    {
        var output = new MemoryStream();
        var pax = Encoding.UTF8.GetBytes(string.Concat(records.Select(r => Record(r.Key, r.Value))));
        Append(output, Header($"PaxHeaders/{name}", 'x', pax.Length), pax);
        var data = Encoding.UTF8.GetBytes(content);
        Append(output, Header(name, '0', data.Length), data);
        output.Write(new byte[1024]);
        return output.ToArray();
    }

    /// <summary>"LENGTH KEY=VALUE\n", LENGTH counting itself.</summary>
    private static string Record(string key, string value)
    {
        var body = $" {key}={value}\n";
        var length = body.Length + 1;
        while ($"{length}{body}".Length != length)
            length++;
        return $"{length}{body}";
    }

    public static byte[] Header(string name, char type, long size)
    {
        var header = new byte[512];
        void Put(int offset, string text) => Encoding.ASCII.GetBytes(text).CopyTo(header, offset);
        Put(0, name);
        Put(100, "0000644\0");
        Put(108, "0000000\0");
        Put(116, "0000000\0");
        Put(124, Convert.ToString(size, 8).PadLeft(11, '0') + "\0");
        Put(136, "14000000000\0");
        header[156] = (byte)type;
        Put(257, "ustar\0");
        Put(263, "00");
        Put(148, "        ");
        Put(148, Convert.ToString(header.Sum(b => (long)b), 8).PadLeft(6, '0') + "\0 ");
        return header;
    }

    private static void Append(MemoryStream output, byte[] header, byte[] data)
    {
        output.Write(header);
        output.Write(data);
        output.Write(new byte[(512 - data.Length % 512) % 512]);
    }
}

internal static class Run
{
    /// <summary>Runs a program, failing the test with its stderr when it exits non-zero.</summary>
    public static string Checked(string file, params string[] args)
    {
        var (exit, stdout, stderr) = Capture(file, args);
        Assert.True(exit == 0, $"{file} {string.Join(' ', args)} exited {exit}: {stderr}");
        return stdout;
    }

    public static (int Exit, string Stdout, string Stderr) Capture(string file, params string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
            info.ArgumentList.Add(arg);
        using var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout, stderr.Result);
    }

    /// <summary>Compresses <paramref name="input"/> with a system tool into <paramref name="output"/>.</summary>
    public static void Compress(string tool, string input, string output)
    {
        var args = tool == "zstd" ? "-q -c" : "-c";
        Checked("/bin/sh", "-c", $"{tool} {args} '{input}' > '{output}'");
    }
}

internal static class Files
{
    public static UnixFileMode ModeOf(string path) => File.GetUnixFileMode(path);

    public static bool ExistsNoFollow(string path) =>
        File.Exists(path) || Directory.Exists(path) || new FileInfo(path).LinkTarget is not null;
}

/// <summary>lstat as the stat(1) tool reports it (it never follows the last symlink).</summary>
internal sealed record FileStat(uint Uid, uint Gid, string Mode, long Mtime, int Links, ulong Inode, string Type)
{
    public static FileStat Of(string path)
    {
        var fields = Run.Checked("stat", "-c", "%u|%g|%a|%Y|%h|%i|%F", path).Trim().Split('|');
        return new FileStat(uint.Parse(fields[0]), uint.Parse(fields[1]), fields[2], long.Parse(fields[3]),
            int.Parse(fields[4]), ulong.Parse(fields[5]), fields[6]);
    }
}
