from droplab.backends.mxnet._framework import mx, mnp, npx
