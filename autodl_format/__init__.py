"""Read and write datasets in the AutoDL challenge format (protocol doc, sections 1.2, 1.3 and 2).

Public API (import from the submodules):
    autodl_format.errors.DatasetError        -- every bad-input error, message names the file
    autodl_format.metadata.AutoDLMetadata    -- the metadata object a Model gets
    autodl_format.reader                     -- NAME.data/{train,test} -> tf.data.Dataset
    autodl_format.image_set                  -- ImageSet (uint8 images + multi-hot labels), stratified_split
    autodl_format.offline.writer                     -- numpy arrays / encoded images -> NAME.data + NAME.solution
    autodl_format.offline.sources                    -- raw datasets (numpy, image folders, shared raw, tfds, digits)
"""
