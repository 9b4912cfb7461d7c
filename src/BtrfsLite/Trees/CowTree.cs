using BtrfsLite.Format;
namespace BtrfsLite.Trees;
// Placeholder until the copy-on-write B-tree lands: every operation throws NotImplementedException.
public sealed class CowTree
{
    public CowTree(ITreeBlockStore store, ulong treeId, ulong rootBytenr, int rootLevel, ulong rootGeneration) { TreeId = treeId; RootBytenr = rootBytenr; RootLevel = rootLevel; RootGeneration = rootGeneration; }
    public static CowTree CreateEmpty(ITreeBlockStore store, ulong treeId) => throw new NotImplementedException();
    public ulong TreeId { get; }
    public ulong RootBytenr { get; }
    public int RootLevel { get; }
    public ulong RootGeneration { get; }
    public Span<byte> Insert(in Key key, int size) => throw new NotImplementedException();
    public bool TryGetForWrite(in Key key, out Span<byte> data) => throw new NotImplementedException();
    public Span<byte> Resize(in Key key, int newSize) => throw new NotImplementedException();
    public bool Delete(in Key key) => throw new NotImplementedException();
    public bool Contains(in Key key) => throw new NotImplementedException();
}
