"""The AutoDL challenge's formats and metric (protocol doc, sections 1.2, 1.3, 2 and 4).

Run time (shipped in the upload zip; import from the submodules):
    autodl_format.errors.DatasetError        -- every bad-input error, message names the file
    autodl_format.metadata.AutoDLMetadata    -- the metadata object a Model gets
    autodl_format.reader                     -- NAME.data/{train,test} -> tf.data.Dataset (NumpyDataset without TF)
    autodl_format.textproto, .protos         -- metadata.textproto and the records through protobuf
    autodl_format.tfrecord, .examples        -- reading without TensorFlow: framing + CRC; parsing + Pillow decoding
    autodl_format.image_set                  -- ImageSet (uint8 images + multi-hot labels), stratified_split
    autodl_format.metrics                    -- the challenge's NAUC and ALC (the learner validates with them)
    autodl_format.frameworks                 -- torch and TensorFlow imported safely in either order; TF or not
Offline (autodl_format.offline, never shipped): writer (arrays / encoded images -> NAME.data + NAME.solution),
sources (raw datasets: numpy, image and video folders, the file-format layout, shared raw, tfds, digits), video
(decoding), convert (a source -> an AutoDL dataset, make_dataset's library), paths (the checkout's folders).
"""
