using System.CommandLine;
using System.Text;
using BtrfsLite.Format;
using BtrfsLite.Fs;
using BtrfsLite.Transactions;
using Microsoft.Win32.SafeHandles;
using Spectre.Console;

namespace BtrfsLite.Cli.Commands;

/// <summary>
/// <c>btrfslite cp-in IMG HOSTPATH IMGPATH [--commit-files N] [--commit-bytes SIZE]</c>: copies a host file or tree
/// into the image like <c>cp -a</c>: directories recursively, symlinks as symlinks (never followed, so the copy never
/// leaves HOSTPATH), hard links kept (same host inode → one image inode), FIFOs/sockets/devices as nodes, sparse files
/// sparse (SEEK_DATA/SEEK_HOLE), mode, uid, gid, atime/mtime/ctime and extended attributes preserved. When IMGPATH
/// is an existing directory the copy goes inside it (IMGPATH/basename); existing directories are merged, existing
/// non-directories replaced. A copy is committed every N files or SIZE bytes of data (defaults 20000 / 1G) so that a
/// large tree never keeps its metadata changes in memory; a small copy is one transaction. File data is streamed in
/// chunks and never held whole.
/// </summary>
internal static class CopyInCommand
{
    public static Command Create()
    {
        var image = FsCli.ImageArgument();
        var host = new Argument<string>("hostpath") { Description = "Host file, directory or symlink to copy" };
        var dest = FsCli.PathArgument("imgpath", "Destination in the image: a new name, or an existing directory to copy into");
        var commitFiles = new Option<int>("--commit-files") { Description = "Commit after this many copied entries", DefaultValueFactory = _ => 20000 };
        var commitBytes = new Option<string>("--commit-bytes") { Description = "Commit after this much file data (K/M/G/T)", DefaultValueFactory = _ => "1G" };
        var progress = new Option<bool>("--no-progress") { Description = "No progress display (it is shown only when stderr is a terminal)" };
        var cmd = new Command("cp-in", "Copy a host file or directory tree into the image (like cp -a)") { image, host, dest, commitFiles, commitBytes, progress };
        cmd.SetAction(pr =>
        {
            int files = pr.GetValue(commitFiles);
            if (files < 1) throw new ArgumentException("--commit-files must be at least 1");
            ulong bytes = FsCli.ParseSize(pr.GetValue(commitBytes)!, "--commit-bytes", allowZero: false);
            if (!HostFiles.Supported) throw new BtrfsLite.Format.BtrfsUnsupportedException("cp-in needs Linux (statx, SEEK_DATA, xattrs)");
            var hostPath = pr.GetValue(host)!;
            var top = HostFiles.LStat(hostPath); // a missing host path fails before the image is touched
            using var fs = FsCli.Open(pr.GetValue(image)!, writable: true);
            var copier = new Copier(fs, files, bytes);
            bool fancy = !pr.GetValue(progress) && !Console.IsErrorRedirected;
            if (fancy)
            {
                var (totalFiles, totalBytes) = Count(hostPath, top);
                var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
                console.Progress()
                    .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new TransferSpeedColumn(), new RemainingTimeColumn())
                    .Start(ctx =>
                    {
                        var task = ctx.AddTask("copying", maxValue: Math.Max(1, totalBytes));
                        copier.OnProgress = () =>
                        {
                            task.Value = copier.Bytes;
                            task.Description = Markup.Escape($"{copier.Entries}/{totalFiles} entries");
                        };
                        copier.Copy(hostPath, top, pr.GetValue(dest)!);
                        task.Value = task.MaxValue;
                    });
            }
            else copier.Copy(hostPath, top, pr.GetValue(dest)!);
            Console.Out.WriteLine($"copied {copier.Entries} entries ({copier.Files} files, {copier.Dirs} directories, {copier.Symlinks} symlinks, " +
                $"{copier.HardLinks} hard links, {copier.Others} other), {copier.Bytes} bytes of data in {copier.Commits} transaction(s)");
            return ExitCodes.Ok;
        });
        return cmd;
    }

    private static (long Entries, double Bytes) Count(string path, HostStat st)
    {
        long n = 1;
        double bytes = st.IsReg ? st.Size : 0;
        if (st.IsDir)
            foreach (var child in SortedChildren(path))
            {
                try
                {
                    var (cn, cb) = Count(child, HostFiles.LStat(child));
                    n += cn; bytes += cb;
                }
                catch (IOException) { } // counted when copied (and reported there)
            }
        return (n, bytes);
    }

    private static string[] SortedChildren(string dir)
    {
        var list = Directory.GetFileSystemEntries(dir);
        Array.Sort(list, StringComparer.Ordinal);
        return list;
    }

    private sealed class Copier
    {
        private readonly Filesystem _fs;
        private readonly int _commitFiles;
        private readonly ulong _commitBytes;
        private readonly Dictionary<(ulong Dev, ulong Ino), FsLocation> _links = new();
        private readonly Dictionary<ulong, FsTree> _trees = new();
        private Transaction? _tx;
        private long _entriesSinceCommit;
        private ulong _bytesSinceCommit;
        private readonly byte[] _buf = new byte[8 << 20];

        public Copier(Filesystem fs, int commitFiles, ulong commitBytes)
        {
            _fs = fs;
            _commitFiles = commitFiles;
            _commitBytes = commitBytes;
        }

        public Action? OnProgress { get; set; }
        public long Entries, Files, Dirs, Symlinks, HardLinks, Others, Commits;
        public ulong Bytes;

        public void Copy(string hostPath, HostStat top, string imgPath)
        {
            try
            {
                _tx = _fs.BeginTransaction();
                var (dir, name) = Destination(hostPath, imgPath);
                CopyEntry(hostPath, top, dir, name);
                _tx.Commit();
                Commits++;
            }
            catch (FsException ex) when (Commits > 0)
            {
                throw new FsException(ex.Errno, $"{ex.Message.Substring(ex.Errno.Length + 2)} ({Commits} earlier transaction(s) of this copy stay committed)");
            }
            catch (IOException ex) when (Commits > 0 && ex is not ImageInUseException)
            {
                // An I/O error or ENOSPC: the batch that failed changed nothing; say what did commit.
                throw new IOException($"{ex.Message} ({Commits} earlier transaction(s) of this copy stay committed; the failed one changed nothing)", ex);
            }
            finally
            {
                _tx?.Dispose();
            }
        }

        private FsTree Tree(ulong id)
        {
            if (!_trees.TryGetValue(id, out var t)) _trees[id] = t = _fs.TreeOf(_tx!, id);
            return t;
        }

        /// <summary>The directory and name the copy of HOSTPATH gets: inside IMGPATH when that is a directory.</summary>
        private (FsLocation Dir, byte[] Name) Destination(string hostPath, string imgPath)
        {
            try
            {
                var loc = _fs.Resolve(_tx!, imgPath);
                if (Tree(loc.Tree).ReadInode(loc.Ino).IsDir)
                {
                    var baseName = Path.GetFileName(Path.TrimEndingDirectorySeparator(hostPath));
                    if (baseName.Length == 0 || baseName is "." or "..")
                        throw new FsException("EINVAL", $"'{hostPath}' has no name to copy into '{imgPath}'; name the destination instead");
                    return (loc, Encoding.UTF8.GetBytes(baseName));
                }
            }
            catch (FsException ex) when (ex.Errno == "ENOENT") { }
            return _fs.ResolveParent(_tx!, imgPath);
        }

        private void CopyEntry(string hostPath, HostStat st, FsLocation dir, byte[] name)
        {
            var t = Tree(dir.Tree);
            uint perm = st.Mode & 0xFFF;
            FsLocation? existing = null;
            if (t.TryLookup(dir.Ino, name, out var l, out var type))
            {
                var loc = l.Type == ItemType.RootItem ? new FsLocation(l.ObjectId, FsTree.RootDirIno) : new FsLocation(dir.Tree, l.ObjectId);
                if (type == DirEntryType.Dir && !st.IsDir)
                    throw new FsException("EISDIR", $"cannot overwrite directory '{Encoding.UTF8.GetString(name)}' with non-directory '{hostPath}'");
                if (type == DirEntryType.Dir) existing = loc;
                else t.Unlink(dir.Ino, name); // like cp --remove-destination
            }

            if (st.IsDir)
            {
                var here = existing ?? new FsLocation(dir.Tree, t.Mkdir(dir.Ino, name, perm, st.Uid, st.Gid));
                Dirs++;
                Counted(0);
                foreach (var child in SortedChildren(hostPath))
                {
                    HostStat cst;
                    try { cst = HostFiles.LStat(child); }
                    catch (FileNotFoundException) { continue; } // removed since the listing
                    CopyEntry(child, cst, here, Encoding.UTF8.GetBytes(Path.GetFileName(child)));
                }
                // After the children (they changed its mtime): the directory's own attributes.
                var ht = Tree(here.Tree);
                SetXattrs(ht, here.Ino, hostPath);
                SetAttributes(ht, here.Ino, st, setModeOwner: existing != null);
                return;
            }

            if (st.IsReg && st.NLink > 1 && _links.TryGetValue((st.Dev, st.Ino), out var first) && first.Tree == dir.Tree)
            {
                var ctime = t.ReadInode(first.Ino).Ctime;
                t.Link(dir.Ino, name, first.Ino, DirEntryType.RegFile);
                t.EditInode(first.Ino, i => i.Ctime = ctime);
                HardLinks++;
                Counted(0);
                return;
            }

            ulong ino;
            ulong data = 0;
            if (st.IsReg)
            {
                ino = t.CreateFile(dir.Ino, name, perm, st.Uid, st.Gid);
                data = CopyData(t, ino, hostPath);
                if (st.NLink > 1) _links[(st.Dev, st.Ino)] = new FsLocation(dir.Tree, ino);
                Files++;
            }
            else if (st.IsSymlink)
            {
                var target = new FileInfo(hostPath).LinkTarget ?? throw new IOException($"{hostPath}: cannot read the symlink");
                ino = t.Symlink(dir.Ino, name, Encoding.UTF8.GetBytes(target), st.Uid, st.Gid);
                Symlinks++;
            }
            else
            {
                ulong rdev = ((ulong)st.RdevMajor << 20) | st.RdevMinor; // the kernel's dev_t, as btrfs stores it
                ino = t.Mknod(dir.Ino, name, st.Mode, rdev, st.Uid, st.Gid);
                Others++;
            }
            SetXattrs(t, ino, hostPath);
            SetAttributes(t, ino, st, setModeOwner: false);
            Counted(data);
        }

        private ulong CopyData(FsTree t, ulong ino, string hostPath)
        {
            using var handle = File.OpenHandle(hostPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, FileOptions.SequentialScan);
            long size = RandomAccess.GetLength(handle);
            ulong copied = 0;
            foreach (var (start, end) in HostFiles.DataRanges(handle, size))
            {
                for (long pos = start; pos < end;)
                {
                    int want = (int)Math.Min(_buf.Length, end - pos);
                    int n = RandomAccess.Read(handle, _buf.AsSpan(0, want), pos);
                    if (n == 0) break; // shrank meanwhile
                    t.Write(ino, (ulong)pos, _buf.AsSpan(0, n));
                    pos += n;
                    copied += (ulong)n;
                    Bytes += (ulong)n;
                    OnProgress?.Invoke();
                }
            }
            // A trailing hole (or a file that is one big hole) only sets the size.
            if (t.ReadInode(ino).Size < (ulong)size) t.Truncate(ino, (ulong)size);
            return copied;
        }

        private static void SetXattrs(FsTree t, ulong ino, string hostPath)
        {
            foreach (var (name, value) in HostFiles.XattrsOf(hostPath))
                t.SetXattr(ino, Encoding.UTF8.GetBytes(name), value);
        }

        private static void SetAttributes(FsTree t, ulong ino, HostStat st, bool setModeOwner)
        {
            t.EditInode(ino, i =>
            {
                if (setModeOwner)
                {
                    i.Mode = (i.Mode & InodeItem.SIfMt) | (st.Mode & 0xFFF);
                    i.Uid = st.Uid;
                    i.Gid = st.Gid;
                }
                i.Atime = new Timespec(st.Atime.Sec, st.Atime.Nsec);
                i.Mtime = new Timespec(st.Mtime.Sec, st.Mtime.Nsec);
                i.Ctime = new Timespec(st.Ctime.Sec, st.Ctime.Nsec); // as mkfs.btrfs --rootdir does
            });
        }

        /// <summary>After each entry: commit when the batch is full, then carry on in a new transaction.</summary>
        private void Counted(ulong data)
        {
            Entries++;
            _entriesSinceCommit++;
            _bytesSinceCommit += data;
            OnProgress?.Invoke();
            if (_entriesSinceCommit < _commitFiles && _bytesSinceCommit < _commitBytes) return;
            _tx!.Commit();
            _tx.Dispose();
            Commits++;
            _trees.Clear();
            _tx = _fs.BeginTransaction();
            _entriesSinceCommit = 0;
            _bytesSinceCommit = 0;
        }
    }
}
