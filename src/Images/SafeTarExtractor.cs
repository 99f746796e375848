using System.Formats.Tar;
using System.Runtime.InteropServices;
using System.Text;
using MiniDocker.Linux;
using Tmds.Linux;

namespace MiniDocker.Images;

/// <summary>What an extraction created and what it deliberately left out.</summary>
public sealed record ExtractResult(
    int Files,
    int Directories,
    int Symlinks,
    int HardLinks,
    int SkippedDeviceNodes,
    int SkippedFifos,
    int SkippedWhiteouts,
    int ClearedSetIdBits);

/// <summary>
/// Extracts a root-filesystem tarball without ever writing outside the target directory.
/// </summary>
/// <remarks>
/// The tarball is untrusted input (the classic tar CVEs: path traversal, symlink and hard-link escapes).
/// Every entry is created relative to a directory file descriptor reached by walking the entry's parent
/// components one at a time with O_NOFOLLOW, so no symlink is ever followed — neither one planted earlier in the
/// same archive nor one that was there before. Symlinks themselves may point anywhere: they are resolved
/// inside the container, by the container's own root, at run time.
/// The reader is System.Formats.Tar rather than SharpCompress's TarReader: SharpCompress does not expose the
/// entry type, so it cannot tell a hard link from a symlink nor a device node from a regular file.
/// </remarks>
public static class SafeTarExtractor
{
    private const uint SetIdBits = 0xC00; // S_ISUID | S_ISGID
    private const uint PermissionBits = 0xFFF;
    private const UnixFileMode RootMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
        UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    /// <summary>
    /// Extracts <paramref name="uncompressedTar"/> into <paramref name="targetDir"/>, which must be missing or empty.
    /// Throws <see cref="ImageException"/> on a malicious, truncated or malformed archive; the caller removes the
    /// partly filled target.
    /// </summary>
    public static ExtractResult Extract(Stream uncompressedTar, string targetDir) =>
        Extract(uncompressedTar, targetDir, overlayWhiteouts: false);

    /// <summary>
    /// As <see cref="Extract(Stream, string)"/>; with <paramref name="overlayWhiteouts"/> (an image layer, stacked
    /// under overlayfs) OCI whiteouts become overlay's own: <c>.wh.NAME</c> a character device 0/0 named NAME, and
    /// <c>.wh..wh..opq</c> the <c>trusted.overlay.opaque=y</c> xattr on its directory, as Docker's overlay2 driver
    /// stores them, so the kernel applies them at mount time with no translation pass.
    /// </summary>
    public static ExtractResult Extract(Stream uncompressedTar, string targetDir, bool overlayWhiteouts)
    {
        var target = Path.GetFullPath(targetDir);
        Directory.CreateDirectory(target);
        if (Directory.EnumerateFileSystemEntries(target).Any())
            throw new ImageException($"extraction target '{target}' is not empty");
        // The target is the store's directory, not the archive's: a './' entry never sets its mode or owner (0777 or
        // another uid would open the store to host users). Inside a container "/" takes its mode from the upper layer.
        File.SetUnixFileMode(target, RootMode);

        using var root = Fd.OpenDirectory(target);
        var extraction = new Extraction(root, overlayWhiteouts);
        // TarReader only sees a forward-only view: on a seekable stream it silently accepts an archive cut at an
        // entry boundary (a gzip stream cut short, which GZipStream does not report, looks like that), whereas
        // reading forward-only it throws EndOfStreamException for a missing header or end-of-archive marker.
        // The view also keeps what the reader consumes between entries, for TarHeaders to check.
        var input = new CapturingStream(uncompressedTar); // not disposed: the caller owns the stream
        using var reader = new TarReader(input, leaveOpen: true);
        var padding = 0;
        string? previous = null;
        while (true)
        {
            var start = input.BytesRead;
            input.StartCapture();
            TarEntry? entry = null;
            Exception? failure = null;
            try
            {
                entry = reader.GetNextEntry(copyData: false);
            }
            catch (Exception e) when (e is EndOfStreamException or InvalidDataException or FormatException
                                          or OverflowException or InvalidOperationException or ArgumentException)
            {
                failure = e;
            }
            var consumed = input.EndCapture();
            // A damaged header is reported as such even when it also made the reader fail.
            TarHeaders.Verify(consumed, padding, start, previous);
            if (failure is not null)
                throw Translate(failure, input.BytesRead, consumed, padding);
            if (entry is null)
                break;

            extraction.Apply(entry);
            // Read to its end, so that between two entries the reader consumes only padding and header blocks.
            if (entry.DataStream is { } data)
            {
                while (data.Read(extraction.Buffer) > 0) { }
                padding = (int)(TarHeaders.Padded(entry.Length) - entry.Length);
            }
            else
            {
                padding = 0;
            }
            previous = entry.Name;
        }

        extraction.FinishDirectories();
        return extraction.Result();
    }

    private static ImageException Translate(Exception failure, long bytesRead, ReadOnlySpan<byte> consumed, int padding) =>
        failure switch
        {
            EndOfStreamException => new ImageException(bytesRead == 0 ? "the archive is empty" : "the archive is truncated", failure),
            // System.Formats.Tar holds ids as Int32. A larger one (4294967294 is (uid_t)-2) is refused rather than
            // mapped: it cannot be stored as it is, and changing a file's owner silently is worse than an error.
            OverflowException => new ImageException(
                $"refusing archive: {TarHeaders.DescribeOverflow(consumed, padding) ?? "a numeric header field is out of range"}", failure),
            _ => new ImageException($"not a valid tar archive: {failure.Message}", failure),
        };

    /// <summary>Longest path accepted inside the rootfs, in bytes: Linux's PATH_MAX (4096, counting the NUL).</summary>
    public const int MaxPathBytes = 4095;

    /// <summary>Longest name of one component, in bytes: NAME_MAX.</summary>
    public const int MaxNameBytes = 255;

    /// <summary>
    /// Deepest path accepted, in components. Real root filesystems stay well below (deep node_modules trees reach
    /// some tens); the limit keeps per-entry walks and the size computation bounded.
    /// </summary>
    public const int MaxDepth = 256;

    /// <summary>
    /// Splits an entry name into components. Leading '/' is stripped as GNU tar and Docker do, because a rootfs
    /// tarball made with absolute names (tar -P) means "this path inside the root"; the result is always relative
    /// to the target, so stripping cannot escape it. '..' is refused outright: no legitimate rootfs tarball
    /// needs it, and refusing is simpler to reason about than resolving it lexically. Paths longer or deeper than
    /// the limits above are refused before anything is created for them.
    /// </summary>
    internal static string[] SplitPath(string raw, string what)
    {
        if (raw.Contains('\0'))
            throw new ImageException($"refusing archive: {what} '{Display.Name(raw)}' contains a NUL byte");
        var parts = raw.Split('/', StringSplitOptions.RemoveEmptyEntries).Where(p => p != ".").ToArray();
        if (parts.Contains(".."))
            throw new ImageException($"refusing archive: {what} '{Display.Name(raw)}' contains a '..' path component");
        if (parts.FirstOrDefault(p => Encoding.UTF8.GetByteCount(p) > MaxNameBytes) is { } longName)
            throw new ImageException(
                $"refusing archive: {what} '{Display.Name(raw)}' has a component longer than {MaxNameBytes} bytes ('{Display.Name(longName)}')");
        if (parts.Length > MaxDepth)
            throw new ImageException(
                $"refusing archive: {what} '{Display.Name(raw)}' has {parts.Length} path components (at most {MaxDepth})");
        var length = parts.Sum(p => Encoding.UTF8.GetByteCount(p) + 1) - 1;
        if (length > MaxPathBytes)
            throw new ImageException(
                $"refusing archive: {what} '{Display.Name(raw)}' is {length} bytes long (at most {MaxPathBytes})");
        return parts;
    }

    private sealed record DirectoryAttributes(uint Mode, int Uid, int Gid, DateTimeOffset ModificationTime);

    private enum SkipKind { DeviceNode, Fifo }

    private sealed class Extraction(Fd root, bool overlayWhiteouts)
    {
        public byte[] Buffer { get; } = new byte[128 * 1024];
        // Directory modes and mtimes are applied after all entries: creating children changes a directory's mtime,
        // and a directory may come after its contents.
        private readonly Dictionary<string, DirectoryAttributes> _directories = new(StringComparer.Ordinal);
        // Paths of device nodes and FIFOs that were skipped, so a hard link to one is skipped too.
        private readonly Dictionary<string, SkipKind> _skipped = new(StringComparer.Ordinal);
        private int _files, _directoryCount, _symlinks, _hardLinks, _devices, _fifos, _whiteouts, _clearedSetId;

        public ExtractResult Result() =>
            new(_files, _directoryCount, _symlinks, _hardLinks, _devices, _fifos, _whiteouts, _clearedSetId);

        public void Apply(TarEntry entry)
        {
            if (entry.EntryType == TarEntryType.GlobalExtendedAttributes)
                return;

            var parts = SplitPath(entry.Name, "entry");
            var key = string.Join('/', parts);
            var raw = Display.Name(entry.Name); // from here on, for messages only
            if (overlayWhiteouts && parts.Length > 0 && parts[^1].StartsWith(".wh.", StringComparison.Ordinal))
            {
                CreateWhiteout(parts, raw);
                return;
            }
            if (parts.Length > 0 && parts[^1].StartsWith(".wh.", StringComparison.Ordinal))
            {
                // Whiteouts only mean something between overlay layers; in a flat rootfs they are noise.
                _whiteouts++;
                return;
            }

            RequireValidIds(entry, raw);
            switch (entry.EntryType)
            {
                case TarEntryType.Directory:
                case TarEntryType.V7RegularFile when entry.Name.EndsWith('/'): // pre-POSIX tar marks directories by the slash
                    CreateDirectory(entry, raw, parts, key);
                    break;
                case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                    RequireNotRoot(parts, raw);
                    CreateFile(entry, raw, parts);
                    break;
                case TarEntryType.SymbolicLink:
                    RequireNotRoot(parts, raw);
                    CreateSymlink(entry, raw, parts);
                    break;
                case TarEntryType.HardLink:
                    RequireNotRoot(parts, raw);
                    CreateHardLink(entry, raw, parts, key);
                    break;
                // A container gets its /dev from the runtime; device nodes in an image would let it open host
                // devices, so they are never created.
                case TarEntryType.CharacterDevice or TarEntryType.BlockDevice:
                    _skipped[key] = SkipKind.DeviceNode;
                    _devices++;
                    break;
                case TarEntryType.Fifo:
                    _skipped[key] = SkipKind.Fifo;
                    _fifos++;
                    break;
                default:
                    throw new ImageException($"entry '{raw}': unsupported tar entry type {entry.EntryType}");
            }
        }

        private const string OpaqueMarker = ".wh..wh..opq";

        /// <summary>
        /// An OCI whiteout in overlay's form. Only these two forms are made by us; a device node or an xattr in the
        /// archive itself is never created (xattrs are not applied at all), so a layer cannot forge trusted.overlay.*
        /// attributes such as redirect or metacopy.
        /// </summary>
        private unsafe void CreateWhiteout(string[] parts, string raw)
        {
            var name = parts[^1];
            if (name == OpaqueMarker)
            {
                using var parentPath = OpenParent(parts, raw, create: true)!;
                using var directory = Fd.OpenAt(parentPath, ".", Libc.O_RDONLY | Libc.O_DIRECTORY, 0, raw);
                ReadOnlySpan<byte> value = "y"u8;
                fixed (byte* v = value)
                    Libc.Check(Libc.fsetxattr(directory.Value, "trusted.overlay.opaque", v, value.Length, 0), "setxattr", raw);
                _whiteouts++;
                return;
            }
            var hidden = name[".wh.".Length..];
            // AUFS's other ".wh..wh.*" metadata (hard-link dirs) means nothing to overlay.
            if (hidden.StartsWith(".wh.", StringComparison.Ordinal))
                return;
            if (hidden.Length == 0 || hidden is "." or "..")
                throw new ImageException($"refusing archive: whiteout '{raw}' names no file");
            using var parent = OpenParent(parts, raw, create: true)!;
            RemoveNonDirectory(parent, hidden, raw);
            Libc.Check(Libc.mknodat(parent.Value, hidden, Libc.S_IFCHR, 0), "mknod", raw);
            _whiteouts++;
        }

        /// <summary>A negative id (a PAX record may say "uid=-5") would reach chown as a huge unsigned one.</summary>
        private static void RequireValidIds(TarEntry entry, string raw)
        {
            if (entry.Uid < 0)
                throw new ImageException($"refusing archive: entry '{raw}': uid {entry.Uid} is out of range (0-{int.MaxValue})");
            if (entry.Gid < 0)
                throw new ImageException($"refusing archive: entry '{raw}': gid {entry.Gid} is out of range (0-{int.MaxValue})");
        }

        private static void RequireNotRoot(string[] parts, string raw)
        {
            if (parts.Length == 0)
                throw new ImageException($"refusing archive: entry '{raw}' would replace the root directory");
        }

        private uint Mode(TarEntry entry)
        {
            var mode = (uint)entry.Mode & PermissionBits;
            if ((mode & SetIdBits) != 0)
            {
                _clearedSetId++;
                mode &= ~SetIdBits;
            }
            return mode;
        }

        private void CreateDirectory(TarEntry entry, string raw, string[] parts, string key)
        {
            if (parts.Length > 0)
            {
                using var parent = OpenParent(parts, raw, create: true)!;
                var existing = Lstat(parent, parts[^1], raw);
                if (existing is not { } st || !IsDirectory(st))
                {
                    if (existing is not null)
                        Libc.Check(Libc.unlinkat(parent.Value, parts[^1], 0), "unlink", raw);
                    Libc.Check(Libc.mkdirat(parent.Value, parts[^1], 0x1C0 /* 0700 until finished */), "mkdir", raw);
                }
            }
            _directories[key] = new DirectoryAttributes(Mode(entry), entry.Uid, entry.Gid, entry.ModificationTime);
            _directoryCount++;
        }

        private void CreateFile(TarEntry entry, string raw, string[] parts)
        {
            using var parent = OpenParent(parts, raw, create: true)!;
            RemoveNonDirectory(parent, parts[^1], raw);
            // O_EXCL|O_NOFOLLOW: the name was just cleared, so anything found there now is refused, never followed.
            using var file = Fd.OpenAt(parent, parts[^1], Libc.O_WRONLY | Libc.O_CREAT | Libc.O_EXCL | Libc.O_NOFOLLOW,
                0x180 /* 0600 until finished */, raw);

            long copied = 0;
            if (entry.DataStream is { } data)
            {
                int n;
                while ((n = data.Read(Buffer)) > 0)
                {
                    file.WriteAll(Buffer.AsSpan(0, n));
                    copied += n;
                }
            }
            if (copied != entry.Length)
                throw new ImageException($"the archive is truncated: entry '{raw}' has {copied} of {entry.Length} bytes");

            // chown before chmod: chown clears set-id bits, and the mode must be the last word.
            Libc.Check(Libc.fchown(file.Value, (uint)entry.Uid, (uint)entry.Gid), "chown", raw);
            Libc.Check(Libc.fchmod(file.Value, Mode(entry)), "chmod", raw);
            SetTimes(file, entry.ModificationTime, raw);
            _files++;
        }

        private void CreateSymlink(TarEntry entry, string raw, string[] parts)
        {
            var linkTarget = entry.LinkName;
            if (linkTarget.Length == 0 || linkTarget.Contains('\0'))
                throw new ImageException($"refusing archive: symlink '{raw}' has an empty or invalid target");
            if (Encoding.UTF8.GetByteCount(linkTarget) > MaxPathBytes)
                throw new ImageException(
                    $"refusing archive: symlink '{raw}' has a target longer than {MaxPathBytes} bytes ('{Display.Name(linkTarget)}')");
            using var parent = OpenParent(parts, raw, create: true)!;
            RemoveNonDirectory(parent, parts[^1], raw);
            Libc.Check(Libc.symlinkat(linkTarget, parent.Value, parts[^1]), "symlink", raw);
            Libc.Check(Libc.fchownat(parent.Value, parts[^1], (uint)entry.Uid, (uint)entry.Gid, Libc.AT_SYMLINK_NOFOLLOW),
                "lchown", raw);
            SetSymlinkTimes(parent, parts[^1], entry.ModificationTime, raw);
            _symlinks++;
        }

        private void CreateHardLink(TarEntry entry, string raw, string[] parts, string key)
        {
            var linkName = entry.LinkName;
            var shownLinkName = Display.Name(linkName);
            if (linkName.Split('/').Contains(".."))
                throw new ImageException($"refusing archive: hard link '{raw}' points outside the root ('{shownLinkName}')");
            var targetParts = SplitPath(linkName, "hard link target");
            if (targetParts.Length == 0)
                throw new ImageException($"refusing archive: hard link '{raw}' points at the root directory");

            var targetKey = string.Join('/', targetParts);
            if (_skipped.TryGetValue(targetKey, out var kind))
            {
                _skipped[key] = kind;
                if (kind == SkipKind.DeviceNode) _devices++; else _fifos++;
                return;
            }
            if (targetKey == key)
                return;

            using var targetParent = OpenParent(targetParts, shownLinkName, create: false);
            var targetStat = targetParent is null ? null : Lstat(targetParent, targetParts[^1], shownLinkName);
            if (targetParent is null || targetStat is null)
                throw new ImageException($"hard link '{raw}': target '{shownLinkName}' is not in the archive");
            if (IsDirectory(targetStat.Value))
                throw new ImageException($"refusing archive: hard link '{raw}' points at directory '{shownLinkName}'");

            using var parent = OpenParent(parts, raw, create: true)!;
            RemoveNonDirectory(parent, parts[^1], raw);
            // flags 0: linkat never dereferences a symlink as the link's source, so linking to a symlink links
            // the symlink itself.
            Libc.Check(Libc.linkat(targetParent.Value, targetParts[^1], parent.Value, parts[^1], 0), "link", raw);
            _hardLinks++;
        }

        /// <summary>
        /// Opens the directory that will hold the last component of <paramref name="parts"/>, walking each parent
        /// component with O_NOFOLLOW. Missing components are created (0755, as tar does for implied directories)
        /// when <paramref name="create"/> is set; otherwise a missing component yields null.
        /// </summary>
        private Fd? OpenParent(string[] parts, string raw, bool create)
        {
            var current = Fd.OpenAt(root, ".", Libc.O_PATH | Libc.O_DIRECTORY, 0, raw);
            try
            {
                for (var i = 0; i < parts.Length - 1; i++)
                {
                    var prefix = string.Join('/', parts, 0, i + 1);
                    var next = OpenComponent(current, parts[i], prefix, raw, create);
                    current.Dispose();
                    current = next;
                    if (current is null)
                        return null;
                }
                return current;
            }
            catch
            {
                current?.Dispose();
                throw;
            }
        }

        private static Fd? OpenComponent(Fd parent, string name, string prefix, string raw, bool create)
        {
            int flags = Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC;
            var fd = Libc.openat(parent.Value, name, flags, 0);
            var errno = fd < 0 ? Marshal.GetLastPInvokeError() : 0;
            if (errno == Libc.ENOENT && create)
            {
                Libc.Check(Libc.mkdirat(parent.Value, name, 0x1ED /* 0755 */), "mkdir", prefix);
                fd = Libc.openat(parent.Value, name, flags, 0);
                errno = fd < 0 ? Marshal.GetLastPInvokeError() : 0;
            }
            if (fd >= 0)
                return new Fd(fd, prefix);
            if (errno == Libc.ENOENT)
                return null;
            if ((Errno)errno is Errno.ENOTDIR or Errno.ELOOP)
            {
                if (Lstat(parent, name, prefix) is { } st && IsSymlink(st))
                    throw new ImageException(
                        $"refusing archive: path '{raw}' leads through symlink '{Display.Name(prefix)}' (extraction never follows symlinks)");
                throw new ImageException($"entry '{raw}': '{Display.Name(prefix)}' is not a directory");
            }
            throw new SyscallException("open", prefix, errno);
        }

        /// <summary>Clears a name for a new non-directory entry: later entries replace earlier ones, as in tar.</summary>
        private static void RemoveNonDirectory(Fd parent, string name, string raw)
        {
            if (Lstat(parent, name, raw) is not { } st)
                return;
            if (!IsDirectory(st))
            {
                Libc.Check(Libc.unlinkat(parent.Value, name, 0), "unlink", raw);
                return;
            }
            if (Libc.unlinkat(parent.Value, name, Libc.AT_REMOVEDIR) == 0)
                return;
            var errno = Marshal.GetLastPInvokeError();
            if (errno == Libc.ENOTEMPTY)
                throw new ImageException($"entry '{raw}' would replace a non-empty directory");
            throw new SyscallException("rmdir", raw, errno);
        }

        public void FinishDirectories()
        {
            foreach (var (key, attributes) in _directories)
            {
                using var directory = key.Length == 0 ? ReopenRoot() : OpenFinishedDirectory(key);
                if (directory is null)
                    continue; // replaced by a later non-directory entry
                if (key.Length == 0)
                {
                    SetTimes(directory, attributes.ModificationTime, "."); // its mode and owner stay the store's
                    continue;
                }
                Libc.Check(Libc.fchown(directory.Value, (uint)attributes.Uid, (uint)attributes.Gid), "chown", key);
                Libc.Check(Libc.fchmod(directory.Value, attributes.Mode), "chmod", key);
                SetTimes(directory, attributes.ModificationTime, key);
            }
        }

        private Fd ReopenRoot() => Fd.OpenAt(root, ".", Libc.O_RDONLY | Libc.O_DIRECTORY, 0, ".");

        private Fd? OpenFinishedDirectory(string key)
        {
            var parts = key.Split('/');
            using var parent = OpenParent(parts, key, create: false);
            if (parent is null)
                return null;
            var fd = Libc.openat(parent.Value, parts[^1],
                Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0);
            if (fd >= 0)
                return new Fd(fd, key);
            var errno = Marshal.GetLastPInvokeError();
            if ((Errno)errno is Errno.ENOENT or Errno.ENOTDIR or Errno.ELOOP)
                return null;
            throw new SyscallException("open", key, errno);
        }

        private static unsafe stat? Lstat(Fd dir, string name, string display)
        {
            stat st;
            if (Libc.fstatat(dir.Value, name, &st, Libc.AT_SYMLINK_NOFOLLOW) == 0)
                return st;
            var errno = Marshal.GetLastPInvokeError();
            if (errno == Libc.ENOENT)
                return null;
            throw new SyscallException("lstat", display, errno);
        }

        private static bool IsDirectory(stat st) => ((ushort)st.st_mode & Libc.S_IFMT) == Libc.S_IFDIR;

        private static bool IsSymlink(stat st) => ((ushort)st.st_mode & Libc.S_IFMT) == Libc.S_IFLNK;

        private static unsafe void SetTimes(Fd file, DateTimeOffset modified, string display)
        {
            var times = stackalloc timespec[2];
            FillTimes(times, modified);
            Libc.Check(Libc.futimens(file.Value, times), "futimens", display);
        }

        private static unsafe void SetSymlinkTimes(Fd dir, string name, DateTimeOffset modified, string display)
        {
            var times = stackalloc timespec[2];
            FillTimes(times, modified);
            Libc.Check(Libc.utimensat(dir.Value, name, times, Libc.AT_SYMLINK_NOFOLLOW), "utimensat", display);
        }

        /// <summary>Access time is left alone (UTIME_OMIT); modification time comes from the archive.</summary>
        private static unsafe void FillTimes(timespec* times, DateTimeOffset modified)
        {
            var ticks = modified.UtcTicks - DateTime.UnixEpoch.Ticks;
            var seconds = Math.DivRem(ticks, TimeSpan.TicksPerSecond, out var remainder);
            if (remainder < 0)
            {
                seconds--;
                remainder += TimeSpan.TicksPerSecond;
            }
            times[0].tv_sec = 0;
            times[0].tv_nsec = (long_t)Libc.UTIME_OMIT;
            times[1].tv_sec = seconds;
            times[1].tv_nsec = (long_t)(remainder * 100);
        }
    }

    /// <summary>Counts what is read and, between StartCapture and EndCapture, keeps a copy of it.</summary>
    private sealed class CapturingStream(Stream inner) : ReadOnlyStream(inner)
    {
        // Between two entries the reader consumes padding, headers and metadata (PAX records, GNU long names): a
        // megabyte is far beyond any real archive's, and the copy must not grow with a hostile one.
        private const int MaxCapture = 1 << 20;
        private readonly MemoryStream _captured = new();
        private bool _capturing;
        private bool _overflowed;

        public long BytesRead { get; private set; }

        public void StartCapture()
        {
            _captured.SetLength(0);
            _capturing = true;
            _overflowed = false;
        }

        public ReadOnlySpan<byte> EndCapture()
        {
            _capturing = false;
            if (_overflowed)
                throw new ImageException($"refusing archive: more than {MaxCapture} bytes of headers before byte {BytesRead}");
            return _captured.GetBuffer().AsSpan(0, (int)_captured.Length);
        }

        public override int Read(Span<byte> buffer)
        {
            var n = Inner.Read(buffer);
            BytesRead += n;
            if (_capturing && n > 0)
            {
                if (_captured.Length + n <= MaxCapture)
                    _captured.Write(buffer[..n]);
                else
                    _overflowed = true;
            }
            return n;
        }

        // The caller owns the wrapped stream.
        protected override void Dispose(bool disposing) { }
    }
}
