"""scipy sparse matrices as users save them (scipy.sparse.save_npz), for the .npz reader's tests,
written to Tests/CLITests/SparseNPZ/. Run once in a venv with numpy and scipy:

    python tools/make_sparse_npz_fixtures.py

One 60 x 40 matrix (about 8% non-zero, two empty rows, one empty column) saved every way a user
meets: csr compressed (save_npz's default), csc stored, coo (row/col), coo with 'coords', csr
with unsorted indices and a duplicate entry (scipy sums it), float32 values with int64 indices.
Beside them: the targets as .npy and as text, the dense matrix with its target as the last
column (dense.npy, float64, what every one of the files must read as), the same with the
duplicate summed, and archives a reader must refuse (bsr, an index out of range, descending
pointers).
"""
import pathlib

import numpy as np
import scipy.sparse as sp

OUT = pathlib.Path(__file__).resolve().parent.parent / "Tests/CLITests/SparseNPZ"


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    n, d = 60, 40
    dense = np.where(rng.random((n, d)) < 0.08, rng.normal(size=(n, d)), 0.0)
    dense[[5, 17]] = 0.0
    dense[:, 11] = 0.0
    w = rng.normal(size=d)
    y = (dense @ w + 0.3 * rng.normal(size=n) > 0).astype(np.int64)
    X = sp.csr_matrix(dense)
    np.save(OUT / "y.npy", y)
    (OUT / "y.txt").write_text("".join(f"{v}\n" for v in y))
    np.save(OUT / "dense.npy", np.column_stack([dense, y]).astype(np.float64))

    sp.save_npz(OUT / "csr.npz", X)
    sp.save_npz(OUT / "csc.npz", X.tocsc(), compressed=False)
    sp.save_npz(OUT / "coo.npz", X.tocoo())
    coo = X.tocoo()
    np.savez(OUT / "coo-coords.npz", coords=np.vstack([coo.row, coo.col]).astype(np.int64), format=np.bytes_(b"coo"),
             shape=np.array(X.shape), data=coo.data)
    np.savez(OUT / "csr-with-y.npz", y=y, **np.load(OUT / "csr.npz"))

    # Unsorted columns within rows, and one column given twice in row 3 (scipy sums it).
    indptr, indices, data = X.indptr.copy(), X.indices.astype(np.int64), X.data.astype(np.float32)
    for r in range(n):
        lo, hi = indptr[r], indptr[r + 1]
        indices[lo:hi] = indices[lo:hi][::-1]
        data[lo:hi] = data[lo:hi][::-1]
    lo = indptr[3]
    extra_col, extra_val = indices[lo], np.float32(0.5)
    indices = np.insert(indices, lo + 1, extra_col)
    data = np.insert(data, lo + 1, extra_val)
    indptr = indptr.copy()
    indptr[4:] += 1
    messy = sp.csr_matrix((data, indices, indptr), shape=X.shape)
    messy.has_sorted_indices = False
    sp.save_npz(OUT / "csr-unsorted-float32.npz", messy)
    summed = messy.copy()
    summed.sum_duplicates()
    np.save(OUT / "dense-unsorted-float32.npy", np.column_stack([summed.toarray().astype(np.float64), y]))

    sp.save_npz(OUT / "bsr.npz", X.tobsr())
    bad = X.copy()
    bad.indices = bad.indices.copy()
    bad.indices[7] = d + 3
    np.savez(OUT / "bad-index.npz", indices=bad.indices, indptr=bad.indptr, format=np.bytes_(b"csr"), shape=np.array(X.shape), data=bad.data)
    pointers = X.indptr.copy()
    pointers[10], pointers[11] = pointers[11] + 1, pointers[10]
    np.savez(OUT / "bad-pointers.npz", indices=X.indices, indptr=pointers, format=np.bytes_(b"csr"), shape=np.array(X.shape), data=X.data)


if __name__ == "__main__":
    main()
